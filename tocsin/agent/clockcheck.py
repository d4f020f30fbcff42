"""Compare this host's clock with the receiver's, from the Date header of each answer.

A host clock far behind makes Alertmanager take each pushed alert as already ended (its endsAt
is past) while answering 2xx; far ahead, resolved alerts linger. The receiver's Date is the one
outside clock the agent sees for free: a difference over `warn_after` is logged when it appears
and when it goes, and exported as tocsin_agent_receiver_clock_offset_seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
# Date has whole seconds and the answer takes time: smaller differences say nothing.
WARN_AFTER = 30.0


class ReceiverClock:
    """The receiver's clock minus this host's, as last measured, with a warning when far off."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        allowance: float = 0.0,
        warn_after: float = WARN_AFTER,
    ) -> None:
        self.offset: float | None = None
        self.allowance = allowance
        self._clock = clock
        self._warn_after = warn_after
        self._warned = False

    def on_response(self, response: requests.Response) -> None:
        """Measure the offset from an answer's Date header, if it has a valid one."""
        header = response.headers.get("Date")
        if not header:
            return
        try:
            theirs = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return
        # Date is truncated to the second: the receiver's time lies within the next one.
        self.observe(theirs + 0.5, self._clock())

    def observe(self, theirs: float, ours: float) -> None:
        """Record one comparison; log when the clocks start or stop disagreeing."""
        offset = self.offset = theirs - ours
        wrong = abs(offset) > self._warn_after
        if wrong and not self._warned:
            side = "behind" if offset > 0 else "ahead of"
            lost = offset > self.allowance
            log.warning(
                "this host's clock is %.0fs %s the receiver's: fix its time sync%s",
                abs(offset),
                side,
                "; Alertmanager drops pushed alerts as already ended (push.clock_skew is "
                f"{self.allowance:g}s)"
                if lost
                else "",
            )
        elif self._warned and not wrong:
            log.warning("this host's clock agrees with the receiver's again")
        self._warned = wrong

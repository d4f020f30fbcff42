"""A worker that runs one task every few seconds on its own thread: sweeps and pruning.

The task gets the clock's time and returns how much it did; a database outage is logged as a
warning and tried again at the next round, and a bug in one round never stops the next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from tocsin.bridge.errors import BridgeError
from tocsin.bridge.platform.clock import Clock, utcnow

log = logging.getLogger(__name__)


class Periodic:
    """Run `task(now)` every `interval` seconds: start() spawns the thread, stop() joins it."""

    def __init__(
        self,
        name: str,
        task: Callable[[datetime], int],
        *,
        interval: float,
        clock: Clock = utcnow,
    ) -> None:
        self.name = name
        self.task = task
        self.interval = interval
        self.clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the rounds in a daemon thread; the first runs at once."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the rounds and wait for the one in hand to finish."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> int:
        """Run one round now; return what the task did."""
        return self.task(self.clock())

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except BridgeError as exc:
                log.warning("%s: %s; retrying in %ss", self.name, exc, self.interval)
            except Exception:  # the next round must come whatever went wrong in this one
                log.exception("%s: round failed", self.name)
            self._stopping.wait(self.interval)

"""What an arriving alert does to the stored one, free of I/O.

Senders are at-least-once and unordered: Alertmanager HA pairs duplicate on purpose and a
resend can overtake a resolve. So a firing alert opens something only when it is new or its
startsAt is newer than the recorded end; anything older is stale and changes nothing.
A firing alert whose endsAt passes without a resend is not resolved by the bridge: a sender
that falls silent is a host-silence incident (heartbeats), not a recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from tocsin.bridge.ingest.parse import Alert


class Outcome(Enum):
    """What to do with an arriving alert."""

    OPEN = "open"  # attach to the group's open incident, or open one
    REFRESH = "refresh"  # the same alert again: note that it was seen
    RESOLVE = "resolve"  # the alert ended: mark it, maybe resolve its incident
    IGNORE = "ignore"  # stale or unknown: change nothing


@dataclass(frozen=True)
class Known:
    """The newest stored occurrence of an alert (by identity)."""

    status: str  # firing|resolved
    starts_at: datetime
    ends_at: datetime | None
    incident_open: bool


def decide(known: Known | None, alert: Alert, now: datetime) -> Outcome:
    """Return what the arriving alert does, given the newest stored occurrence of it."""
    if alert.resolved(now):
        if known is None or alert.starts_at < known.starts_at:
            # A resolve for an alert never seen firing, or for an older episode.
            return Outcome.IGNORE
        return Outcome.REFRESH if known.status == "resolved" else Outcome.RESOLVE
    if known is None:
        return Outcome.OPEN
    if known.status == "resolved":
        ended = known.ends_at or known.starts_at
        # Alertmanager re-sends a firing alert after its resolve: only a newer start is news.
        return Outcome.OPEN if alert.starts_at > ended else Outcome.IGNORE
    if known.incident_open or alert.starts_at <= known.starts_at:
        # Still firing; if a person resolved the incident meanwhile, a resend must not reopen it.
        return Outcome.REFRESH
    return Outcome.OPEN

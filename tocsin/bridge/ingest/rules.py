"""What an arriving alert does to the stored one, free of I/O: the episode rules.

An episode of an alert (its label set) runs from a start to a resolve. The stored occurrence
keeps the latest startsAt seen while it fires (HA peers that stamp their own startsAt, and
resends, may differ) and, once resolved, its endsAt. Senders are at-least-once, unordered and
their clocks disagree, so the rules compare a message only with the episode it could belong to,
and when in doubt a firing wins: a wrong open is seen and closed by a person, a wrong resolve
silences a real problem.

- A resolve ends the firing episode unless it ended before that episode's latest start (then it
  is a late resolve of an earlier episode: stale).
- A firing after a resolve is a new episode when it starts after the resolved one's latest
  start, or before it but no more than the skew tolerance before the resolve (a sender whose
  clock is behind); one that starts at that start is a resend of the ended episode: stale.
- A firing alert whose endsAt passes without a resend is not resolved by the bridge: a sender
  that falls silent is a host-silence incident (heartbeats), not a recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from tocsin.bridge.ingest.parse import Alert


class Outcome(Enum):
    """What an arriving alert did; the value names it in responses, logs and metrics."""

    OPENED = "opened"  # firing, a new episode: joined the group's open incident or opened one
    REFRESHED = "refreshed"  # firing again in the current episode: noted as seen
    RESOLVED = "resolved"  # ended the current episode
    DUPLICATE = "duplicate"  # a resolve of an episode already resolved (HA peer, resend)
    STALE = "stale"  # about an episode older than the stored one: changes nothing
    UNKNOWN_RESOLVE = "unknown_resolve"  # a resolve of an alert never seen firing
    MAINTENANCE = "maintenance"  # firing, new, but a maintenance window holds it: pages nobody


# The outcomes that store the alert as firing or resolved; the others are named to the sender.
STORED = frozenset((Outcome.OPENED, Outcome.REFRESHED, Outcome.RESOLVED))


@dataclass(frozen=True)
class Known:
    """The newest stored occurrence of an alert (by identity)."""

    status: str  # firing|resolved
    starts_at: datetime  # the latest startsAt seen in this episode
    ends_at: datetime | None
    incident_open: bool


def decide(known: Known | None, alert: Alert, tolerance: timedelta) -> Outcome:
    """Return what the arriving alert does, given the newest stored occurrence of it."""
    if alert.ended:
        if known is None:
            return Outcome.UNKNOWN_RESOLVE
        if known.status == "resolved":
            return Outcome.DUPLICATE
        ends_at = alert.ends_at or alert.starts_at
        return Outcome.STALE if ends_at < known.starts_at else Outcome.RESOLVED
    if known is None:
        return Outcome.OPENED
    if known.status == "resolved":
        if alert.starts_at > known.starts_at:
            return Outcome.OPENED
        ended = known.ends_at or known.starts_at
        if alert.starts_at < known.starts_at and alert.starts_at >= ended - tolerance:
            return Outcome.OPENED
        return Outcome.STALE
    if known.incident_open or alert.starts_at <= known.starts_at:
        # Still firing; if a person resolved the incident meanwhile, a resend must not reopen it.
        return Outcome.REFRESHED
    return Outcome.OPENED

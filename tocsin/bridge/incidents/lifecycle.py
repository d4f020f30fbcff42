"""The incident state machine, free of I/O: which action is allowed in which state, and why not.

    triggered ──ack──▶ acknowledged ──resolve──▶ resolved ──close──▶ closed
        └────────────────resolve────────────────▲
`paused` is a flag beside the status (waiting on the reporter), set and cleared while open.
"""

from __future__ import annotations

from tocsin.bridge.errors import Conflict, InvalidInput

STATUSES = ("triggered", "acknowledged", "resolved", "closed")
OPEN_STATUSES = ("triggered", "acknowledged")
ACTIONS = ("ack", "resolve", "close", "pause", "resume", "escalate", "reassign", "notes")


def next_status(action: str, status: str, paused: bool) -> str:
    """Return the status after `action`, or raise Conflict naming why it is impossible now."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if status not in STATUSES:
        raise Conflict(f"incident has unknown status {status!r}")
    if action == "notes":
        return status
    if action == "close":
        if status != "resolved":
            raise Conflict(f"cannot close a {status} incident: resolve it first")
        return "closed"
    if status not in OPEN_STATUSES:
        raise Conflict(f"cannot {action} a {status} incident")
    if action == "ack":
        if status == "acknowledged":
            raise Conflict("the incident is already acknowledged")
        return "acknowledged"
    if action == "resolve":
        return "resolved"
    if action == "pause" and paused:
        raise Conflict("the incident is already paused")
    if action == "resume" and not paused:
        raise Conflict("the incident is not paused")
    return status


def is_open(status: str) -> bool:
    """Return whether the incident still needs work (triggered or acknowledged)."""
    return status in OPEN_STATUSES

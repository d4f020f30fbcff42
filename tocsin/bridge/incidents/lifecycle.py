"""The incident state machine, free of I/O: which action is allowed in which state, and why not.

    triggered ──ack──▶ acknowledged ──resolve──▶ resolved ──close──▶ closed
        └────────────────resolve────────────────▲    │
        ▲ (never acknowledged)    ▲ (acknowledged)    │
        └─────────────────────────┴─────reopen────────┘
`paused` is a flag beside the status (waiting on the reporter), set and cleared while
acknowledged: pausing stops the response clock, which only a person's response may meet.
A resolved or closed incident's root cause and solution may be amended (the knowledge base
learns from auto-resolved incidents too); notes and a new title may be added in any state.
"""

from __future__ import annotations

from tocsin.bridge.errors import Conflict, InvalidInput


class StateConflict(Conflict):
    """An action the incident's state forbids; `key` and `values` let a page say it in its language."""

    def __init__(self, message: str, key: str, **values: str) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


STATUSES = ("triggered", "acknowledged", "resolved", "closed")
OPEN_STATUSES = ("triggered", "acknowledged")
ACTIONS = (
    "ack",
    "contact",
    "resolve",
    "close",
    "pause",
    "resume",
    "escalate",
    "reassign",
    "notes",
    "reopen",
    "amend",
    "retitle",
)


def next_status(action: str, status: str, paused: bool, acknowledged: bool = True) -> str:
    """Return the status after `action`, or raise Conflict naming why it is impossible now."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if status not in STATUSES:
        raise Conflict(f"incident has unknown status {status!r}")
    if action in ("notes", "retitle"):
        return status
    if action == "amend":
        if status not in ("resolved", "closed"):
            raise StateConflict(
                f"cannot amend the resolution of a {status} incident: resolve it first",
                "conflict.amend_open",
                status=status,
            )
        return status
    if action == "reopen":
        if status != "resolved":
            raise StateConflict(
                f"cannot reopen a {status} incident: only a resolved one",
                "conflict.reopen",
                status=status,
            )
        return "acknowledged" if acknowledged else "triggered"
    if action == "close":
        if status != "resolved":
            raise StateConflict(
                f"cannot close a {status} incident: resolve it first",
                "conflict.close_unresolved",
                status=status,
            )
        return "closed"
    if status not in OPEN_STATUSES:
        raise StateConflict(
            f"cannot {action} a {status} incident",
            "conflict.finished",
            action=action,
            status=status,
        )
    if action == "ack":
        if status == "acknowledged":
            raise StateConflict("the incident is already acknowledged", "conflict.already_acked")
        return "acknowledged"
    if action == "resolve":
        return "resolved"
    if action == "contact" and status == "acknowledged":
        raise StateConflict(
            "the incident is already acknowledged: its response was met", "conflict.already_acked"
        )
    if action == "pause" and paused:
        raise StateConflict("the incident is already paused", "conflict.already_paused")
    if action == "pause" and status == "triggered":
        raise StateConflict(
            "acknowledge the incident before pausing it: a pause waits on the reporter, "
            "which needs a first contact",
            "conflict.pause_unacked",
        )
    if action == "resume" and not paused:
        raise StateConflict("the incident is not paused", "conflict.not_paused")
    return status


def is_open(status: str) -> bool:
    """Return whether the incident still needs work (triggered or acknowledged)."""
    return status in OPEN_STATUSES

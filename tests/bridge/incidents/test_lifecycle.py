from __future__ import annotations

import pytest

from tocsin.bridge.errors import Conflict
from tocsin.bridge.incidents.lifecycle import next_status


@pytest.mark.parametrize(
    ("action", "status", "paused", "after"),
    [
        ("ack", "triggered", False, "acknowledged"),
        ("resolve", "triggered", False, "resolved"),
        ("resolve", "acknowledged", True, "resolved"),
        ("close", "resolved", False, "closed"),
        ("pause", "acknowledged", False, "acknowledged"),
        ("resume", "triggered", True, "triggered"),
        ("notes", "closed", False, "closed"),
        ("reassign", "triggered", False, "triggered"),
    ],
)
def test_allowed_transitions(action: str, status: str, paused: bool, after: str) -> None:
    assert next_status(action, status, paused) == after


@pytest.mark.parametrize(
    ("action", "status", "paused", "reason"),
    [
        ("ack", "closed", False, "cannot ack a closed incident"),
        ("ack", "acknowledged", False, "already acknowledged"),
        ("close", "triggered", False, "resolve it first"),
        ("resolve", "resolved", False, "cannot resolve a resolved incident"),
        ("pause", "triggered", True, "already paused"),
        ("resume", "triggered", False, "not paused"),
        ("escalate", "closed", False, "cannot escalate"),
    ],
)
def test_impossible_transitions_say_why(
    action: str, status: str, paused: bool, reason: str
) -> None:
    with pytest.raises(Conflict, match=reason):
        next_status(action, status, paused)

"""Policy faults the SLA engine depends on are refused with the file, line and key named."""

from __future__ import annotations

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.policy import parse_policy

BASE = """
priorities: {P1: {response: 15m}}
routes: [{priority: P1, escalation: ops}]
people: {ann: {}}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "escalation_policies: {ops: [{after: 0m, notify: [schedule:nobody]}]}",
            "escalation_policies.ops.steps[0].notify[0]: unknown schedule 'nobody'",
        ),
        (
            "teams: {ops: {members: [ann], schedule: nightly}}",
            "teams.ops.schedule: unknown schedule 'nightly'",
        ),
        (
            'calendars: {b: {hours: ["09:00-12:30", "12:00-18:00"]}}',
            "calendars.b.hours: spans overlap at 12:00",
        ),
        (
            "schedules: {s: {rotation: {members: [bob]}}}",
            "unknown person 'bob'",
        ),
        (
            'schedules: {s: {rotation: {members: [ann]}, overrides: [{person: ann, from: "2026-01-02T00:00", until: "2026-01-01T00:00"}]}}',
            "an override must end after it starts",
        ),
        (
            "escalation_policies: {ops: {steps: [{after: soon, notify: [person:ann]}]}}",
            "'soon' is not a duration",
        ),
    ],
)
def test_policy_fault_names_the_key(extra: str, message: str) -> None:
    text = (
        BASE
        + extra
        + ("\nescalation_policies: {ops: []}" if "escalation_policies" not in extra else "")
    )
    with pytest.raises(ConfigError, match="policy.yml:") as caught:
        parse_policy(text, "policy.yml")
    assert message in caught.value.message


def test_priority_without_any_target_is_refused() -> None:
    with pytest.raises(ConfigError, match="priorities.P1: a priority needs at least one target"):
        parse_policy("priorities: {P1: {name: emergency}}\nroutes: [{priority: P1}]", "policy.yml")

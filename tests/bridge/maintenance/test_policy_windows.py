"""The policy's weekly maintenance windows: read with their zone, refused naming file and line."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.maintenance.store import policy_windows
from tocsin.bridge.policy import parse_policy

BASE = "priorities: {P1: {response: 15m}}\nroutes: [{priority: P1}]\n"


def test_a_weekly_window_is_read_with_its_zone() -> None:
    policy = parse_policy(
        BASE
        + "maintenance:\n"
        + "  patching:\n"
        + "    match: [team=db, 'instance=~db.*']\n"
        + "    days: [sun]\n"
        + "    hours: '02:00-04:00'\n"
        + "    timezone: Asia/Shanghai\n"
        + "    reason: weekly patch window\n",
        "policy.yml",
    )
    spec = policy.maintenance["patching"]
    assert (spec.days, spec.start, spec.end, spec.timezone.key) == (
        (6,),
        time(2),
        time(4),
        "Asia/Shanghai",
    )
    (window,) = policy_windows(policy)
    labels = {"team": "db", "instance": "db3"}
    assert window.covers(labels, datetime(2026, 3, 7, 19, 0, tzinfo=UTC))  # Sun 03:00 Shanghai
    assert not window.covers(labels, datetime(2026, 3, 7, 21, 0, tzinfo=UTC))  # Sun 05:00
    assert not window.covers({"team": "web"}, datetime(2026, 3, 7, 19, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("{days: [sun], hours: '02:00-04:00'}", "needs 'match'"),
        ("{match: [team], days: [sun], hours: '02:00-04:00'}", "is not of the form"),
        ("{match: [team=db], days: [someday], hours: '02:00-04:00'}", "'someday' is not a day"),
        ("{match: [team=db], days: [sun], hours: '02:00'}", "is not a span"),
        ("{match: [team=db], days: [sun], hours: '02:00-02:00'}", "is empty"),
        ("{match: [team=db], days: [sun], hours: '02:00-04:00', timezone: Mars/Base}", "Mars/Base"),
        ("{match: [team=db], days: [sun], hours: '02:00-04:00', color: red}", "color"),
    ],
)
def test_a_bad_window_names_file_line_and_key(window: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(BASE + f"maintenance:\n  patching: {window}\n", "policy.yml")
    assert "policy.yml:4" in str(caught.value)
    assert message in str(caught.value)

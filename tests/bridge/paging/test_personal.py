"""People's notification rules and quiet hours: read with line and key, planned without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.paging.personal import plan, quiet_until
from tocsin.bridge.policy.load import parse_policy
from tocsin.bridge.policy.model import Person

CAROL = """\
    phone: '+8613800138000'
    email: carol@example.com
    timezone: Asia/Shanghai
    channels: [chat, text, call]
    rules:
      P1: [{after: 0m, via: chat}, {after: 2m, via: text}, {after: 5m, via: call}]
      default: [{after: 0m, via: email}, {after: 10m, via: text}]
    quiet_hours: {hours: "22:00-07:00"}
    phone_limit: {pages: 3, per: 15m}
"""


def policy_text(carol: str = CAROL) -> str:
    return (
        "priorities:\n  P1: {response: 15m}\n  P2: {response: 30m}\n"
        "routes:\n  - {priority: P1}\n"
        "channels:\n  chat: {type: log}\n  text: {type: sms, provider: aliyun}\n"
        "  call: {type: voice, provider: aliyun}\n"
        f"people:\n  carol:\n{carol}"
    )


def carol(text: str = CAROL) -> Person:
    return parse_policy(policy_text(text), "policy.yml").people["carol"]


def shanghai(hour: int, minute: int = 0) -> datetime:
    return (
        datetime(2026, 3, 2, hour - 8, minute, tzinfo=UTC)
        if hour >= 8
        else datetime(2026, 3, 1, hour + 16, minute, tzinfo=UTC)
    )


def test_rules_are_read_per_priority_with_a_default() -> None:
    person = carol()
    assert [(s.after, s.via) for s in person.rule_for("P1") or ()] == [
        (timedelta(0), "chat"), (timedelta(minutes=2), "text"), (timedelta(minutes=5), "call")
    ]  # fmt: skip
    assert [s.via for s in person.rule_for("P2") or ()] == ["email", "text"]
    assert person.quiet is not None and person.quiet.always == frozenset({"P1"})
    assert person.phone_limit is not None
    assert (person.phone_limit.pages, person.phone_limit.per) == (3, timedelta(minutes=15))


@pytest.mark.parametrize(
    ("change", "line", "key", "problem"),
    [
        (
            ("via: call", "via: fax"),
            "      P1:",
            "rules.P1[2].via",
            "not one of this person's methods",
        ),
        (("P1: [", "P7: ["), "P7:", "rules.P7", "unknown priority 'P7'"),
        (("after: 5m", "after: 1m"), "      P1:", "rules.P1[2].after", "in the order they fire"),
        (("after: 2m", "after: soon"), "      P1:", "rules.P1[1].after", "soon"),
        (('"22:00-07:00"', '"late"'), "quiet_hours", "quiet_hours.hours", "HH:MM-HH:MM"),
        (("quiet_hours: {", "quiet_hours: {always: [P9], "), "quiet_hours", "always[0]", "P9"),
        (("    timezone: Asia/Shanghai\n", ""), "quiet_hours", "quiet_hours", "need a time zone"),
        (("default: [", "default: []\n      P2: ["), "default:", "rules.default", "at least one"),
        (("pages: 3", "pages: 0"), "phone_limit", "phone_limit.pages", "a whole number"),
        (("per: 15m", "per: 0s"), "phone_limit", "phone_limit.per", "a window"),
    ],
)
def test_check_config_names_file_line_and_key_of_a_bad_rule(
    change: tuple[str, str], line: str, key: str, problem: str
) -> None:
    text = CAROL.replace(*change)
    number = next(n for n, shown in enumerate(policy_text(text).splitlines(), 1) if line in shown)
    with pytest.raises(ConfigError) as caught:
        carol(text)
    message = str(caught.value)
    assert message.startswith(f"policy.yml:{number}: people.carol.") and key in message
    assert problem in message


def test_email_is_a_method_only_for_someone_with_an_address() -> None:
    with pytest.raises(ConfigError, match="not one of this person's methods"):
        carol(CAROL.replace("    email: carol@example.com\n", ""))


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (shanghai(23), shanghai(7) + timedelta(days=1)),
        (shanghai(3), shanghai(7)),
        (shanghai(7), None),
        (shanghai(21, 59), None),
    ],
)
def test_quiet_hours_past_midnight_end_the_next_morning(
    at: datetime, until: datetime | None
) -> None:
    quiet = carol().quiet
    assert quiet is not None and quiet_until(quiet, at) == until


def test_a_p2_page_at_night_waits_for_the_morning_and_a_p1_rings_at_once() -> None:
    person, night = carol(), shanghai(23)
    morning = shanghai(7) + timedelta(days=1)
    assert [(s.via, s.due, s.held) for s in plan(person, "P2", night) or ()] == [
        ("email", morning, True), ("text", morning, True)
    ]  # fmt: skip
    assert [(s.via, s.due) for s in plan(person, "P1", night) or ()] == [
        ("chat", night), ("text", night + timedelta(minutes=2)),
        ("call", night + timedelta(minutes=5)),
    ]  # fmt: skip


def test_someone_without_rules_has_no_plan() -> None:
    person = carol(CAROL.split("    rules:")[0])
    assert plan(person, "P1", shanghai(12)) is None

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.bridge.paging.oncall import (
    OnCall,
    layer_on_call,
    next_handoff,
    on_call,
    reach,
    reach_step,
    resolve_targets,
)
from tocsin.bridge.policy import parse_policy
from tocsin.bridge.policy.model import Override, Rotation, Schedule, Target

NEW_YORK = ZoneInfo("America/New_York")
WEEKLY = Rotation(
    ("ann", "bob", "cid"), datetime(2026, 1, 5, 9, tzinfo=NEW_YORK), timedelta(weeks=1)
)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("at", "person"),
    [
        (ny(2026, 1, 5, 8, 59), None),  # before the rotation starts
        (ny(2026, 1, 5, 9), "ann"),
        (ny(2026, 1, 12, 8, 59), "ann"),
        (ny(2026, 1, 12, 9), "bob"),
        (ny(2026, 1, 19, 9), "cid"),
        (ny(2026, 1, 26, 9), "ann"),  # wraps around
        (ny(2026, 3, 9, 8, 59), "cid"),  # first Monday after spring-forward ...
        (ny(2026, 3, 9, 9), "ann"),  # ... hands off at 09:00 local, not 10:00
    ],
)
def test_weekly_rotation_hands_off_at_local_time(at: datetime, person: str | None) -> None:
    assert layer_on_call(WEEKLY, NEW_YORK, at) == person


def test_next_handoff_is_at_local_time_after_dst() -> None:
    assert next_handoff(WEEKLY, NEW_YORK, ny(2026, 3, 5)) == datetime(2026, 3, 9, 13, tzinfo=UTC)


def test_next_handoff_before_start_is_the_start() -> None:
    assert next_handoff(WEEKLY, NEW_YORK, ny(2026, 1, 1)) == datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_later_layer_wins_where_it_has_someone() -> None:
    nights = Rotation(("nina",), datetime(2026, 2, 1, tzinfo=NEW_YORK), timedelta(weeks=1))
    schedule = Schedule("ops", NEW_YORK, (WEEKLY, nights))
    assert on_call(schedule, ny(2026, 1, 20)) == OnCall("cid", layer=0)
    assert on_call(schedule, ny(2026, 2, 2)) == OnCall("nina", layer=1)


def test_override_wins_while_it_lasts() -> None:
    cover = Override("dan", ny(2026, 1, 6, 12), ny(2026, 1, 6, 18))
    schedule = Schedule("ops", NEW_YORK, (WEEKLY,), (cover,))
    assert on_call(schedule, ny(2026, 1, 6, 12)) == OnCall("dan", override=True)
    assert on_call(schedule, ny(2026, 1, 6, 18)) == OnCall("ann", layer=0)


def test_schedule_before_any_layer_starts_has_nobody() -> None:
    assert on_call(Schedule("ops", NEW_YORK, (WEEKLY,)), ny(2025, 12, 1)) == OnCall(None)


POLICY = parse_policy(
    """
priorities: {P1: {response: 15m}}
routes: [{priority: P1}]
channels: {chat: {type: slack, url: "http://127.0.0.1/hook"}}
people: {ann: {email: a@x.org}, bob: {email: b@x.org}, cid: {channels: [chat]}}
schedules:
  primary:
    timezone: America/New_York
    rotation: {members: [ann, bob], start: "2026-01-05T09:00", every: 1w}
teams:
  ops: {members: [ann, bob, cid], schedule: primary}
  experts: {members: [bob, cid]}
"""
)


@pytest.mark.parametrize(
    ("targets", "resolved"),
    [
        (["schedule:primary"], ["person:ann"]),
        (["team:ops"], ["person:ann"]),  # a team with a schedule pages its on-call person
        (["team:experts"], ["person:bob", "person:cid"]),  # otherwise every member
        (["person:cid", "channel:chat"], ["person:cid", "channel:chat"]),
        (["schedule:primary", "person:ann"], ["person:ann"]),  # paged once
    ],
)
def test_resolve_targets_to_people_and_channels(targets: list[str], resolved: list[str]) -> None:
    parsed = [Target(*t.split(":")) for t in targets]
    assert [str(t) for t in resolve_targets(POLICY, parsed, ny(2026, 1, 6))] == resolved


GAPS = parse_policy(
    """
priorities: {P1: {response: 15m}}
routes: [{priority: P1}]
channels: {desk: {type: log}}
people: {ann: {email: a@x.org}, bob: {email: b@x.org}, cid: {channels: [desk]}, dan: {}}
schedules:
  later:
    timezone: America/New_York
    rotation: {members: [ann], start: "2026-06-01T09:00", every: 1w}
  orphan:
    timezone: America/New_York
    rotation: {members: [ann], start: "2026-06-01T09:00", every: 1w}
teams:
  night: {members: [bob, cid], schedule: later}
"""
)


@pytest.mark.parametrize(
    ("targets", "reached", "unreached"),
    [
        (["schedule:later"], ["person:bob", "person:cid"], []),  # the team using it instead
        (["team:night"], ["person:bob", "person:cid"], []),
        (["schedule:orphan"], [], ["schedule:orphan"]),  # no team uses it: nobody
        (["schedule:orphan", "person:ann"], ["person:ann"], ["schedule:orphan"]),
    ],
)
def test_a_gap_in_a_rotation_falls_back_to_the_team_or_is_unreached(
    targets: list[str], reached: list[str], unreached: list[str]
) -> None:
    found = reach(GAPS, [Target(*t.split(":")) for t in targets], ny(2026, 1, 6))
    assert ([str(t) for t in found.targets], [str(t) for t in found.unreached]) == (
        reached,
        unreached,
    )


def test_once_the_rotation_starts_its_person_is_paged_not_the_team() -> None:
    found = reach(GAPS, [Target("schedule", "later")], ny(2026, 6, 2))
    assert ([str(t) for t in found.targets], found.unreached) == (["person:ann"], ())


def test_a_person_with_no_address_reaches_nobody_and_says_why() -> None:
    found = reach(GAPS, [Target("person", "dan"), Target("person", "ann")], ny(2026, 1, 6))
    assert ([str(t) for t in found.targets], found.event_data()) == (
        ["person:ann"],
        {
            "unreached": ["person:dan"],
            "unreached_reason": "person:dan: has no email and no chat channel",
        },
    )


def test_a_step_reaching_nobody_pages_its_fallback() -> None:
    found = reach_step(GAPS, [Target("person", "dan")], [Target("channel", "desk")], ny(2026, 1, 6))
    assert ([str(t) for t in found.targets], found.event_data()["fallback"]) == (
        ["channel:desk"],
        ["channel:desk"],
    )


def test_a_fallback_is_not_paged_while_the_step_reaches_someone() -> None:
    found = reach_step(
        GAPS,
        [Target("person", "ann"), Target("person", "dan")],
        [Target("channel", "desk")],
        ny(2026, 1, 6),
    )
    assert ([str(t) for t in found.targets], found.fallback) == (["person:ann"], ())

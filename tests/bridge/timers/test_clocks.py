from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.bridge.policy.model import Calendar, PriorityPolicy
from tocsin.bridge.timers import calendar as business
from tocsin.bridge.timers.clocks import (
    breached,
    from_row,
    outcome,
    pause,
    remaining,
    restart,
    resume,
    start,
    start_clocks,
    stop,
    summary,
    to_row,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BUSINESS = Calendar(
    "business",
    SHANGHAI,
    frozenset(range(5)),
    ((time(9), time(12)), (time(13), time(18))),
    frozenset({date(2026, 10, 1)}),
)
P1 = PriorityPolicy(
    "P1", "emergency", timedelta(minutes=15), timedelta(hours=2), timedelta(hours=2)
)
P3 = PriorityPolicy(
    "P3", "general", timedelta(hours=8), None, timedelta(hours=48), calendar="business"
)
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
MIN = timedelta(minutes=1)


def test_start_clocks_starts_one_clock_per_target() -> None:
    clocks = {c.name: c for c in start_clocks(P1, None, NOW)}
    assert {n: c.due_at for n, c in clocks.items()} == {
        "response": NOW + timedelta(minutes=15),
        "update": NOW + timedelta(hours=2),
        "resolution": NOW + timedelta(hours=2),
    }


def test_priority_without_a_target_keeps_no_clock_for_it() -> None:
    assert [c.name for c in start_clocks(P3, BUSINESS, NOW)] == ["response", "resolution"]


def test_warning_goes_out_at_the_warn_fraction_of_the_target() -> None:
    clock = start("response", timedelta(minutes=15), None, 0.6, NOW)
    assert clock.warn_at == NOW + timedelta(minutes=9)


def test_business_clock_due_counts_working_hours_only() -> None:
    friday_5pm = datetime(2026, 3, 6, 9, tzinfo=UTC)
    clock = start("response", timedelta(hours=8), BUSINESS, 0.5, friday_5pm)
    assert clock.due_at == datetime(2026, 3, 9, 9, tzinfo=UTC)  # Monday 17:00 Shanghai
    assert clock.warn_at == datetime(2026, 3, 9, 4, tzinfo=UTC)  # Monday 12:00 Shanghai


def test_pause_keeps_the_time_left_and_clears_the_due_time() -> None:
    clock = pause(start("response", 15 * MIN, None, 0.67, NOW), None, NOW + 5 * MIN)
    assert (clock.due_at, clock.remaining, clock.paused) == (None, 10 * MIN, True)


def test_resume_leaves_exactly_the_time_left_at_the_pause() -> None:
    held = pause(start("response", 15 * MIN, None, 0.67, NOW), None, NOW + 5 * MIN)
    resumed = resume(held, None, 0.67, NOW + timedelta(hours=3))
    assert resumed.due_at == NOW + timedelta(hours=3) + 10 * MIN
    assert remaining(resumed, None, NOW + timedelta(hours=3)) == 10 * MIN


def test_resume_after_the_warning_was_sent_schedules_no_second_warning() -> None:
    clock = replace(start("response", 15 * MIN, None, 0.5, NOW), warned_at=NOW + 8 * MIN)
    resumed = resume(pause(clock, None, NOW + 9 * MIN), None, 0.5, NOW + 60 * MIN)
    assert resumed.warn_at is None


def test_resume_before_the_warning_point_moves_the_warning() -> None:
    held = pause(start("response", 10 * MIN, None, 0.5, NOW), None, NOW + 2 * MIN)
    resumed = resume(held, None, 0.5, NOW + 60 * MIN)
    assert resumed.warn_at == NOW + 63 * MIN


def test_overdue_clock_stays_overdue_by_the_same_amount_after_resume() -> None:
    held = pause(start("response", 15 * MIN, None, 0.67, NOW), None, NOW + 20 * MIN)
    resumed = resume(held, None, 0.67, NOW + 60 * MIN)
    assert resumed.due_at == NOW + 55 * MIN
    assert breached(resumed, NOW + 60 * MIN)


def test_business_clock_paused_over_a_weekend_keeps_business_time() -> None:
    friday_4pm, friday_5pm = (
        datetime(2026, 3, 6, 8, tzinfo=UTC),
        datetime(2026, 3, 6, 9, tzinfo=UTC),
    )
    clock = start("response", timedelta(hours=8), BUSINESS, 0.67, friday_4pm)
    held = pause(clock, BUSINESS, friday_5pm)
    assert held.remaining == timedelta(hours=7)
    resumed = resume(held, BUSINESS, 0.67, datetime(2026, 3, 8, 3, tzinfo=UTC))  # Sunday
    assert resumed.due_at == datetime(2026, 3, 9, 9, tzinfo=UTC)  # Monday 17:00 Shanghai


def test_overdue_business_clock_resumed_after_a_weekend_stays_overdue_by_business_time() -> None:
    thursday_9am = datetime(2026, 3, 5, 1, tzinfo=UTC)  # due Thursday 18:00 Shanghai
    friday_10am, monday_9am = (
        datetime(2026, 3, 6, 2, tzinfo=UTC),
        datetime(2026, 3, 9, 1, tzinfo=UTC),
    )
    clock = start("response", timedelta(hours=8), BUSINESS, 0.67, thursday_9am)
    held = pause(clock, BUSINESS, friday_10am)
    resumed = resume(held, BUSINESS, 0.67, monday_9am)
    assert held.remaining == -timedelta(hours=1)
    assert resumed.due_at == datetime(2026, 3, 6, 9, tzinfo=UTC)  # Friday 17:00 Shanghai
    assert remaining(resumed, BUSINESS, monday_9am) == -timedelta(hours=1)
    assert breached(resumed, monday_9am)


def test_acknowledgement_before_the_due_time_is_met() -> None:
    clock = stop(start("response", 15 * MIN, None, 0.67, NOW), NOW + 14 * MIN, "acknowledged")
    assert (outcome(clock, NOW + timedelta(days=1)), clock.warn_at) == ("met", None)
    assert remaining(clock, None, NOW + timedelta(days=1)) == MIN


@pytest.mark.parametrize(
    ("clock", "by", "minutes", "expected"),
    [
        ("response", "first_contact", 14, "met"),
        ("response", "resolved", 14, "resolved_before_response"),
        ("response", None, 14, "resolved_before_response"),
        ("response", "resolved", 16, "breached"),
        ("resolution", "resolved", 14, "met"),
    ],
)
def test_only_a_persons_response_meets_the_response_clock(
    clock: str, by: str | None, minutes: int, expected: str
) -> None:
    stopped = stop(start(clock, 15 * MIN, None, 0.67, NOW), NOW + minutes * MIN, by)
    assert outcome(stopped, NOW + timedelta(days=1)) == expected


def test_stop_after_the_due_time_is_breached() -> None:
    clock = stop(start("response", 15 * MIN, None, 0.67, NOW), NOW + 16 * MIN)
    assert outcome(clock, NOW + 16 * MIN) == "breached"


def test_running_clock_is_breached_at_its_due_time() -> None:
    clock = start("response", 15 * MIN, None, 0.67, NOW)
    assert [breached(clock, NOW + d * MIN) for d in (14, 15)] == [False, True]


def test_restart_begins_a_new_cycle_of_the_update_clock() -> None:
    old = replace(start("update", timedelta(hours=2), None, 0.67, NOW), breached_at=NOW)
    new = restart(old, None, 0.67, NOW + timedelta(hours=3))
    assert (new.due_at, new.breached_at) == (NOW + timedelta(hours=5), None)


def test_a_restarted_cycle_clears_the_previous_breach_reason() -> None:
    old = replace(start("update", timedelta(hours=2), None, 0.67, NOW), breached_at=NOW)
    new = restart(old, None, 0.67, NOW + timedelta(hours=3))
    assert "breach_reason" not in to_row(old)  # a breached clock keeps the reason it was given
    assert (to_row(new)["breach_reason"], to_row(new)["breach_exempt"]) == (None, False)


def test_restart_of_a_paused_clock_stays_paused_with_a_full_target() -> None:
    held = pause(start("update", timedelta(hours=2), None, 0.67, NOW), None, NOW + MIN)
    new = restart(held, None, 0.67, NOW + 2 * MIN)
    assert (new.paused, new.remaining) == (True, timedelta(hours=2))


def test_summary_shows_target_due_remaining_and_breached() -> None:
    clock = start("response", 15 * MIN, None, 0.67, NOW)
    assert summary(clock, None, NOW + 5 * MIN) == {
        "target_seconds": 900.0,
        "due_at": NOW + 15 * MIN,
        "remaining_seconds": 600.0,
        "breached": False,
        "paused": False,
        "stopped_at": None,
    }


def test_row_round_trip_keeps_every_field() -> None:
    clock = pause(start("resolution", timedelta(hours=48), BUSINESS, 0.67, NOW), BUSINESS, NOW)
    row = {**to_row(clock), "incident_id": 1}
    row["started_at"] = row["started_at"].replace(tzinfo=None)  # as SQLite returns it
    assert from_row(row) == clock


ZONE_CALENDARS = st.sampled_from([None, BUSINESS])
instants = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 1), timezones=st.just(UTC))
spans = st.integers(0, 400 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=150, deadline=None)
@given(ZONE_CALENDARS, instants, spans, spans, st.integers(60, 100 * 3600))
def test_pause_and_resume_preserve_the_time_left(
    cal: Calendar | None, started: datetime, until_pause: timedelta, held: timedelta, target: int
) -> None:
    clock = start("resolution", timedelta(seconds=target), cal, 0.67, started)
    paused_at = started + until_pause
    left = remaining(clock, cal, paused_at)
    resumed_at = paused_at + held
    resumed = resume(pause(clock, cal, paused_at), cal, 0.67, resumed_at)
    assert resumed.due_at is not None and left is not None
    if left > timedelta(0):
        assert remaining(resumed, cal, resumed_at) == left
        assert business.elapsed(cal, resumed_at, resumed.due_at) == left
    else:
        assert breached(resumed, resumed_at)

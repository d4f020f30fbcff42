"""Matchers and window spans: what a window covers, and when, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.bridge.maintenance.windows import Weekly, Window, covering
from tocsin.bridge.policy.matchers import MatcherError, parse, parse_all

NEW_YORK = ZoneInfo("America/New_York")
SUNDAY = 6


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("instance=db1", {"instance": "db1"}, True),
        ("instance=db1", {"instance": "db10"}, False),
        ("instance!=db1", {"instance": "db2"}, True),
        ("instance!=db1", {}, True),
        ("instance=~db.*", {"instance": "db7"}, True),
        ("instance=~db", {"instance": "db7"}, False),  # the whole value, as Alertmanager
        ("team=", {}, True),  # a missing label reads as empty
        ('service="web api"', {"service": "web api"}, True),
    ],
)
def test_matchers_read_as_alertmanager_reads_them(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "at least one matcher"),
        (["instance"], "is not of the form"),
        (["9x=1"], "is not of the form"),
        (["host=~("], "not a regular expression"),
        ("instance=db1", "give a list"),
    ],
)
def test_bad_matchers_are_refused_naming_the_field(texts: object, message: str) -> None:
    with pytest.raises(MatcherError) as raised:
        parse_all(texts)  # type: ignore[arg-type]
    assert message in raised.value.message
    assert raised.value.field == "matchers"


def weekly(start: str, end: str, zone: ZoneInfo = NEW_YORK) -> Window:
    return Window(
        key="policy:patch",
        matchers=parse_all(["instance=db1"]),
        reason="patch",
        created_by="policy",
        weekly=Weekly((SUNDAY,), time.fromisoformat(start), time.fromisoformat(end), zone),
    )


def test_a_weekly_window_keeps_its_wall_clock_hours_across_dst() -> None:
    window = weekly("01:00", "05:00")
    before = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)  # Sun 02:00 EST
    after = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)  # Sun 02:00 EDT
    assert window.open_span(before) == (
        datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    )
    assert window.open_span(after) == (
        datetime(2026, 3, 15, 5, 0, tzinfo=UTC),
        datetime(2026, 3, 15, 9, 0, tzinfo=UTC),
    )


def test_on_the_spring_forward_sunday_the_window_is_an_hour_shorter() -> None:
    start, end = weekly("01:00", "05:00").open_span(datetime(2026, 3, 8, 7, 30, tzinfo=UTC)) or ()
    assert end - start == timedelta(hours=3)


def test_on_the_fall_back_sunday_the_window_is_an_hour_longer() -> None:
    start, end = weekly("00:30", "03:00").open_span(datetime(2026, 11, 1, 6, 30, tzinfo=UTC)) or ()
    assert end - start == timedelta(hours=3, minutes=30)


def test_a_start_in_the_skipped_hour_moves_forward_by_the_gap() -> None:
    window = weekly("02:30", "04:00")
    assert window.open_span(datetime(2026, 3, 8, 6, 45, tzinfo=UTC)) is None  # 01:45 EST
    start, _ = window.open_span(datetime(2026, 3, 8, 7, 30, tzinfo=UTC)) or ()  # 03:30 EDT
    assert start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 02:30 EST read as 03:30 EDT


def test_first_and_until_bound_the_occurrences_by_their_local_start_date() -> None:
    hours = Weekly((SUNDAY,), time(23), time(2), NEW_YORK, date(2026, 3, 15), date(2026, 3, 15))
    window = Window("7", parse_all(["instance=db1"]), "patch", "alice", weekly=hours)
    assert window.weekly is not None
    assert window.weekly.next_start(datetime(2026, 3, 2, tzinfo=UTC)) == datetime(
        2026,
        3,
        16,
        3,
        0,
        tzinfo=UTC,  # Sunday 15th 23:00 EDT
    )
    assert window.open_span(datetime(2026, 3, 9, 4, 0, tzinfo=UTC)) is None  # the 8th: before
    assert window.open_span(datetime(2026, 3, 16, 5, 0, tzinfo=UTC)) is not None  # past midnight
    assert window.open_span(datetime(2026, 3, 23, 4, 0, tzinfo=UTC)) is None  # the 22nd: after
    assert window.weekly.next_start(datetime(2026, 3, 17, tzinfo=UTC)) is None


def test_a_window_past_midnight_belongs_to_the_day_it_starts() -> None:
    window = weekly("23:00", "02:00", ZoneInfo("UTC"))
    assert window.open_span(datetime(2026, 3, 9, 1, 0, tzinfo=UTC)) is not None  # Monday 01:00
    assert window.open_span(datetime(2026, 3, 10, 1, 0, tzinfo=UTC)) is None  # Tuesday 01:00


def test_the_covering_window_is_the_one_that_ends_last() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    short = Window("1", parse_all(["instance=db1"]), "a", "x", now, now + timedelta(minutes=10))
    long = Window("2", parse_all(["instance=~db.*"]), "b", "x", now, now + timedelta(hours=1))
    other = Window("3", parse_all(["instance=web1"]), "c", "x", now, now + timedelta(hours=9))
    found = covering([short, long, other], {"instance": "db1"}, now)
    assert found == (long, now + timedelta(hours=1))
    assert covering([short], {"instance": "db1"}, now + timedelta(minutes=10)) is None

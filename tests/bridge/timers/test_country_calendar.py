"""Calendars that take a country's public holidays and make-up working days from the holidays package."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from tests.bridge.helpers import FakeClock, make_runtime
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.policy import load_policy, parse_policy
from tocsin.bridge.timers.calendar import add, data_missing, is_working_day

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The State Council's notice on the 2026 holidays (国办发明电〔2025〕7号), written out by hand:
# every day off, weekends included, and every weekend day worked to make up for them.
DAYS_OFF_2026 = [
    ("2026-01-01", "2026-01-03"),  # 元旦
    ("2026-02-15", "2026-02-23"),  # 春节
    ("2026-04-04", "2026-04-06"),  # 清明节
    ("2026-05-01", "2026-05-05"),  # 劳动节
    ("2026-06-19", "2026-06-21"),  # 端午节
    ("2026-09-25", "2026-09-27"),  # 中秋节
    ("2026-10-01", "2026-10-07"),  # 国庆节
]
MAKE_UP_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]


def _official_2026() -> dict[date, bool]:
    off = set()
    for first, last in DAYS_OFF_2026:
        day = date.fromisoformat(first)
        while day <= date.fromisoformat(last):
            off.add(day)
            day += timedelta(days=1)
    worked = {date.fromisoformat(d) for d in MAKE_UP_2026}
    days = {}
    day = date(2026, 1, 1)
    while day.year == 2026:
        days[day] = day in worked or (day.weekday() < 5 and day not in off)
        day += timedelta(days=1)
    return days


def test_official_list_has_nineteen_weekday_holidays_and_six_make_up_days() -> None:
    official = _official_2026()
    weekday_holidays = [d for d, worked in official.items() if d.weekday() < 5 and not worked]
    make_up = [d for d, worked in official.items() if d.weekday() >= 5 and worked]
    assert len(weekday_holidays) == 19
    assert [d.isoformat() for d in make_up] == MAKE_UP_2026


def test_bundled_calendar_follows_the_2026_schedule_day_by_day() -> None:
    calendar = load_policy().calendars["business"]
    package = holidays.China(years=2026)
    for day, worked in _official_2026().items():
        assert is_working_day(calendar, day) is worked, day
        assert package.is_working_day(day) is worked, day


def test_p3_opened_before_labour_day_is_due_after_the_holiday() -> None:
    policy = load_policy()
    calendar = policy.calendar_for("P3")
    opened = datetime(2026, 4, 30, 17, tzinfo=SHANGHAI)
    assert add(calendar, opened, timedelta(hours=8)) == datetime(2026, 5, 6, 17, tzinfo=SHANGHAI)


def test_make_up_saturday_counts_as_a_working_day() -> None:
    calendar = load_policy().calendar_for("P3")
    friday_evening = datetime(2026, 5, 8, 17, tzinfo=SHANGHAI)
    assert add(calendar, friday_evening, timedelta(hours=2)) == datetime(
        2026, 5, 9, 10, tzinfo=SHANGHAI
    )


POLICY = """\
calendars:
  local:
    timezone: Asia/Shanghai
    country: CN
    holidays: [2026-03-02]
    workdays: [2026-10-07]
priorities:
  P3: {response: 8h, calendar: local}
routes:
  - {priority: P3}
heartbeat: {priority: P3}
"""


def test_local_overrides_win_over_country_data() -> None:
    calendar = parse_policy(POLICY).calendars["local"]
    assert not is_working_day(calendar, date(2026, 3, 2))  # a local day off on a Monday
    assert is_working_day(calendar, date(2026, 10, 7))  # a local working day in National Day
    assert not is_working_day(calendar, date(2026, 10, 6))  # the country's day off stays


def test_date_listed_as_holiday_and_workday_is_refused_with_its_line() -> None:
    text = POLICY.replace("workdays: [2026-10-07]", "workdays: [2026-10-07, 2026-03-02]")
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "policy.yml")
    message = str(caught.value)
    assert message.startswith("policy.yml:6: calendars.local.workdays: 2026-03-02 ")
    assert "'holidays' (line 5)" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("country: XX", "policy.yml:4: calendars.local.country: no holiday data for 'XX'"),
        ("country: US\n    subdivision: ZZ", "policy.yml:5: calendars.local.subdivision: "),
        ("subdivision: NY", "policy.yml:4: calendars.local.subdivision: a subdivision needs"),
    ],
)
def test_unknown_country_or_subdivision_is_refused(change: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        parse_policy(POLICY.replace("country: CN", change), "policy.yml")


def test_year_without_a_published_schedule_is_reported_missing() -> None:
    calendars = load_policy().calendars
    assert data_missing(calendars, datetime(2026, 6, 1, tzinfo=UTC)) == []
    assert data_missing(calendars, datetime(2026, 12, 6, tzinfo=UTC)) == [("business", 2027)]


def test_bridge_exposes_and_logs_missing_calendar_data(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        runtime = make_runtime(sqlite_url, FakeClock(datetime(2026, 12, 6, 8, tzinfo=UTC)))
    text = runtime.metrics.exposition().decode()
    assert 'tocsin_bridge_calendar_data_missing{calendar="business",year="2027"} 1.0' in text
    assert 'tocsin_bridge_calendar_data_missing{calendar="business",year="2026"} 0.0' in text
    warned = [r.getMessage() for r in caplog.records if "calendar_watch" in r.name]
    assert len(warned) == 1 and "no confirmed CN holiday data for 2027" in warned[0]
    runtime.store.dispose()

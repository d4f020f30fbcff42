from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tocsin.bridge.web.i18n import Translator, choose_language, parse_accept_language
from tocsin.bridge.web.messages import CATALOGUE


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "fr-FR, zh-Hans;q=0.5, en;q=0.4", "zh-CN"),
        (None, "zh-TW", "zh-CN"),
        (None, "de, fr", "en"),
        (None, "", "en"),
        (None, "en;q=0, zh;q=0.1", "zh-CN"),
        ("en", "zh-CN", "en"),
        ("zh-CN", "en", "zh-CN"),
        ("klingon", "zh-CN", "zh-CN"),
    ],
)
def test_language_comes_from_cookie_then_accept_language(
    cookie: str | None, header: str, expected: str
) -> None:
    assert choose_language(cookie, header) == expected


def test_accept_language_is_ordered_by_quality() -> None:
    assert parse_accept_language("en;q=0.2, zh-CN, fr;q=0.5") == ["zh-CN", "fr", "en"]


def test_every_english_message_has_a_chinese_translation() -> None:
    assert set(CATALOGUE["en"]) == set(CATALOGUE["zh-CN"])


@pytest.mark.parametrize(
    ("language", "seconds", "expected"),
    [
        ("en", 59, "0m 59s"),
        ("en", 3600 + 5 * 60, "1h 05m"),
        ("en", -125, "-2m 05s"),
        ("en", 3 * 86400 + 4 * 3600, "3d 4h"),
        ("zh-CN", 7200, "2小时 00分"),
    ],
)
def test_durations_read_like_a_countdown(language: str, seconds: float, expected: str) -> None:
    assert Translator(language).duration(seconds) == expected


def test_missing_key_falls_back_to_the_key() -> None:
    assert Translator("zh-CN")("no.such.key") == "no.such.key"


@pytest.mark.parametrize(
    ("seconds", "expected"), [(900, "15m"), (7200, "2h"), (36 * 3600, "1d 12h"), (0, "0s")]
)
def test_targets_drop_zero_parts(seconds: float, expected: str) -> None:
    assert Translator("en").span(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"), [(47 * 3600, "47h 00m"), (-30 * 3600 - 60, "-30h 01m"), (59, "0m 59s")]
)
def test_business_durations_count_hours_not_days(seconds: float, expected: str) -> None:
    assert Translator("en").duration(seconds, days=False) == expected


def test_business_targets_count_hours_not_days() -> None:
    assert Translator("en").span(48 * 3600, days=False) == "48h"


def test_local_time_names_weekday_and_zone() -> None:
    instant = datetime(2026, 3, 9, 9, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert Translator("en").local_time(instant) == "Mon 2026-03-09 17:00 Asia/Shanghai"
    assert Translator("zh-CN").local_time(instant) == "周一 2026-03-09 17:00 Asia/Shanghai"


def test_local_time_may_leave_the_zone_to_another_line() -> None:
    instant = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert Translator("en").local_time(instant, zone=False) == "Mon 2026-03-09 09:00"

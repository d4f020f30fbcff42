from __future__ import annotations

import pytest

from bridge.web.i18n import Translator, choose_language, parse_accept_language
from bridge.web.messages import CATALOGUE


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

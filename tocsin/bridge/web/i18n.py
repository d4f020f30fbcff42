"""Choose the page language from a cookie or Accept-Language, and translate catalogue keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tocsin.bridge.web.messages import CATALOGUE

LANGUAGES = tuple(CATALOGUE)  # ("en", "zh-CN"): English first, the fallback
DEFAULT_LANGUAGE = LANGUAGES[0]
LANGUAGE_COOKIE = "tocsin_lang"
_ALIASES = {"zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-sg": "zh-CN", "en": "en"}


def _canonical(tag: str) -> str | None:
    """Return the catalogue language for a language tag such as 'zh-Hans-CN' or 'en-GB'."""
    tag = tag.strip().lower()
    if tag in _ALIASES:
        return _ALIASES[tag]
    primary = tag.split("-", 1)[0]
    if primary == "zh":
        # Traditional-script readers get Simplified rather than English: closer to what they read.
        return "zh-CN"
    return _ALIASES.get(primary)


def parse_accept_language(header: str) -> list[str]:
    """Return the tags of an Accept-Language header, best first, dropping q=0 entries."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """Return the cookie's language if valid, else the best Accept-Language match, else English."""
    if cookie in LANGUAGES:
        return cookie
    for tag in parse_accept_language(accept_language or ""):
        language = _canonical(tag)
        if language is not None:
            return language
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """Look up catalogue messages for one language, falling back to English then to the key."""

    language: str

    @property
    def messages(self) -> Mapping[str, str]:
        return CATALOGUE[self.language]

    def __call__(self, key: str, **values: object) -> str:
        text = self.messages.get(key) or CATALOGUE[DEFAULT_LANGUAGE].get(key, key)
        return text.format(**values) if values else text

    def field(self, key: str) -> str:
        """Return the label of an event data key, or the key itself when it has none."""
        return self.messages.get(f"data.{key}") or key

    def duration(self, seconds: float, *, days: bool = True) -> str:
        """Format a span for people on call: '2h 05m', '14m 09s', '3d 4h'.

        Business time is counted in hours (`days=False`): '20h 00m', since a 24-hour day of
        business time is no day anyone works.
        """
        total = int(abs(seconds))
        whole_days, rest = divmod(total, 86400) if days else (0, total)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        sign = "-" if seconds < 0 else ""
        unit = self.messages.get("unit.dhms") or CATALOGUE[DEFAULT_LANGUAGE]["unit.dhms"]
        d, h, m, s = unit.split(",")
        if whole_days:
            return f"{sign}{whole_days}{d} {hours}{h}"
        if hours:
            return f"{sign}{hours}{h} {minutes:02d}{m}"
        return f"{sign}{minutes}{m} {secs:02d}{s}"

    def local_time(self, value: datetime, *, zone: bool = True) -> str:
        """Format an instant in its own zone with the weekday: 'Mon 2026-03-09 09:30 Asia/Shanghai'."""
        names = self.messages.get("unit.weekdays") or CATALOGUE[DEFAULT_LANGUAGE]["unit.weekdays"]
        name = (getattr(value.tzinfo, "key", None) or value.tzname() or "") if zone else ""
        weekday = names.split(",")[value.weekday()]
        return f"{weekday} {value:%Y-%m-%d %H:%M} {name}".strip()

    def span(self, seconds: float, *, days: bool = True) -> str:
        """Format a target without zero parts: '15m', '2h', '1d 12h' (business time: '48h')."""
        unit = self.messages.get("unit.dhms") or CATALOGUE[DEFAULT_LANGUAGE]["unit.dhms"]
        names = unit.split(",")
        total = int(abs(seconds))
        parts = []
        day = 86400 if days else 10**12
        for size, name in zip((day, 3600, 60, 1), names, strict=True):
            count, total = divmod(total, size)
            if count:
                parts.append(f"{count}{name}")
        return " ".join(parts) or f"0{names[3]}"

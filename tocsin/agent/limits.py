"""What a Tocsin bridge accepts in one alert, checked before sending rather than refused after.

The same limits as the bridge's ingest (tocsin/bridge/ingest/parse.py, README "Ingest limits"):
at most MAX_LABELS labels and MAX_LABELS annotations, names of 1-MAX_NAME characters, values of
at most MAX_VALUE characters, no NUL, valid Unicode. Config and rules are checked at load time
(`check-config` names the file, line and key); rendered text, which the config cannot foresee
(a template filled with a long label), is cut to fit here, so one long value never costs the
whole alert.
"""

from __future__ import annotations

MAX_LABELS = 100
MAX_NAME = 256
MAX_VALUE = 8192
CUT_MARK = "…"


def text_problem(text: str, limit: int = MAX_VALUE) -> str | None:
    """Return why a bridge would refuse this name or value, or None when it is fine."""
    if len(text) > limit:
        return f"is {len(text)} characters; a bridge accepts at most {limit}"
    if "\x00" in text:
        return "contains a NUL character, which a bridge refuses"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "contains a lone surrogate, which a bridge refuses"
    return None


def fit(text: str) -> str:
    """Return rendered text a bridge accepts: NUL and lone surrogates replaced, cut at the limit."""
    if text_problem(text) is None:
        return text
    cleaned = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode()
    if len(cleaned) > MAX_VALUE:
        cleaned = cleaned[: MAX_VALUE - len(CUT_MARK)] + CUT_MARK
    return cleaned


def fit_pairs(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Fit every value of a label or annotation set."""
    if all(text_problem(value) is None for _, value in pairs):
        return pairs
    return tuple((key, fit(value)) for key, value in pairs)

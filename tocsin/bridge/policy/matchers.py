"""Label matchers in Alertmanager's form: `name=value`, `name!=value`, `name=~regex`.

A regular expression matches the whole value, as Alertmanager's and Prometheus' do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tocsin.bridge.errors import InvalidInput

_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|=)\s*(.*?)\s*$", re.S)
MAX_MATCHERS = 20
MAX_VALUE = 1024


class MatcherError(InvalidInput):
    """A matcher is not of the form name=value, name!=value or name=~regex."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "matchers")


@dataclass(frozen=True)
class Matcher:
    """One condition on one label; a missing label reads as the empty string."""

    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op == "=~":
            object.__setattr__(self, "_pattern", re.compile(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether the label set satisfies this condition."""
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        pattern: re.Pattern[str] = getattr(self, "_pattern")  # noqa: B009 - set in __post_init__
        return pattern.fullmatch(value) is not None

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def parse(text: str) -> Matcher:
    """Parse one matcher, naming what is wrong with it."""
    if not isinstance(text, str):
        raise MatcherError(f"{text!r} is not a text such as 'instance=db1'")
    found = _FORM.match(text)
    if found is None:
        raise MatcherError(
            f"{text[:80]!r} is not of the form name=value, name!=value or name=~regex"
        )
    name, op, value = found.groups()
    value = value.strip('"')
    if len(value) > MAX_VALUE:
        raise MatcherError(f"{name}: the value is longer than {MAX_VALUE} characters")
    try:
        return Matcher(name, op, value)
    except re.error as exc:
        raise MatcherError(f"{text[:80]!r}: not a regular expression: {exc}") from exc


def parse_all(texts: Sequence[str]) -> tuple[Matcher, ...]:
    """Parse a window's matchers: at least one, so no window silences everything by accident."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise MatcherError("give a list of matchers such as ['instance=db1']")
    if not texts:
        raise MatcherError("give at least one matcher, such as 'instance=db1'")
    if len(texts) > MAX_MATCHERS:
        raise MatcherError(f"at most {MAX_MATCHERS} matchers")
    return tuple(parse(text) for text in texts)


def match_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Return whether every matcher holds for the labels."""
    return all(matcher.matches(labels) for matcher in matchers)

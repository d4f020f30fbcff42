"""Annotation templates in the Prometheus subset, so one text serves the agent and Prometheus.

Supported actions: `{{ $value }}`, `{{ $labels.device }}`, pipes to `humanize`,
`humanize1024`, `humanizePercentage` and `humanizeDuration`, and `printf "%.1f" $value` (or
`$value | printf "%.1f"`). The rule's own numbers, `$threshold`, `$clear`, `$for`, `$window` and
`$horizon`, are operands too (durations without a pipe read `10m`): the agent renders them, and `rules export` writes them into the
text as literals, so a text never repeats a number the rule already holds.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from tocsin.common.durations import format_duration

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.DOTALL)
_LABEL = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)")
_PRINTF_VERB = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[dfegsvx%]")


def _si(value: float, base: float, big: str, small: str) -> str:
    """Scale a number by SI (or binary) prefixes the way Prometheus' humanize does."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return f"{value:.4g}"
    if abs(value) >= 1:
        for prefix in big:
            if abs(value) < base:
                return f"{value:.4g}{prefix}".rstrip()
            value /= base
        return f"{value * base:.4g}{big[-1]}"
    for prefix in small:
        if abs(value) >= 1 or prefix == small[-1]:
            return f"{value:.4g}{prefix}".rstrip()
        value *= 1000
    return f"{value:.4g}"


def _humanize(value: float) -> str:
    return _si(value, 1000.0, " kMGTPEZY", " munpfazy")


def _humanize_binary(value: float) -> str:
    if abs(value) <= 1:
        return f"{value:.4g}"
    prefixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]
    for prefix in prefixes:
        if abs(value) < 1024 or prefix == prefixes[-1]:
            return f"{value:.4g}{prefix}"
        value /= 1024
    return f"{value:.4g}"


def _humanize_percentage(value: float) -> str:
    return f"{value * 100:.4g}%"


def _humanize_duration(value: float) -> str:
    """Write seconds as Prometheus' humanizeDuration does, e.g. 600 -> `10m 0s`."""
    if math.isnan(value) or math.isinf(value) or abs(value) < 1:
        return f"{value:.4g}s"
    sign = "-" if value < 0 else ""
    whole = int(abs(value))
    days, hours, minutes, seconds = whole // 86400, whole // 3600 % 24, whole // 60 % 60, whole % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{abs(value):.4g}s"


_FUNCTIONS: dict[str, Callable[[float], str]] = {
    "humanize": _humanize,
    "humanize1024": _humanize_binary,
    "humanizePercentage": _humanize_percentage,
    "humanizeDuration": _humanize_duration,
}
# Operands naming one of the rule's own numbers (Rule.values), written as $threshold etc.
RULE_VALUES = ("threshold", "clear", "for", "window", "horizon")
# Without a pipe these show as durations are written in rules: `10m`, `1h30m`.
_DURATIONS = ("for", "window", "horizon")


def _plain(value: float) -> str:
    """Write a value in its shortest exact form, as Prometheus prints `$value`."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _go_printf(fmt: str, value: float | str) -> str:
    """Apply a Go printf format with one argument; %v means the default form."""
    return fmt.replace("%v", "%s") % value


@dataclass(frozen=True)
class _Action:
    """One `{{ ... }}`: an operand (`$value` or a label) and the functions it is piped through."""

    operand: str
    steps: tuple[tuple[str, str], ...]
    source: str = ""

    @property
    def rule_value(self) -> str | None:
        """Return the rule number this action shows (`$threshold` -> threshold), else None."""
        name = self.operand[1:]
        return name if self.operand.startswith("$") and name in RULE_VALUES else None

    def render(
        self, value: float, labels: Mapping[str, str], values: Mapping[str, float] | None = None
    ) -> str:
        current: float | str
        if self.operand == "$value":
            current = value
        elif self.rule_value is not None:
            current = (values or {}).get(self.rule_value, math.nan)
            if self.rule_value in _DURATIONS and not self.steps:
                return format_duration(current)
        else:
            current = labels.get(self.operand, "")
        for function, argument in self.steps:
            current = _apply(function, argument, current)
        return _plain(current) if isinstance(current, float) else str(current)


def _apply(function: str, argument: str, current: float | str) -> float | str:
    """Apply one pipeline stage; a stage that cannot take the value leaves a visible marker."""
    try:
        if function == "printf":
            return _go_printf(argument, current)
        return _FUNCTIONS[function](float(current))
    except (TypeError, ValueError):
        # Go templates print an error marker too; an alert must still go out with its text.
        return f"%!{function}({current})"


def _parse_operand(word: str) -> str:
    if word == "$value" or word[1:] in RULE_VALUES and word.startswith("$"):
        return word
    label = _LABEL.fullmatch(word)
    if label:
        return label.group(1)
    raise ValueError(
        f"unknown operand {word!r}; use $value, $labels.NAME or one of the rule's "
        + ", ".join(f"${name}" for name in RULE_VALUES)
    )


def _parse_printf(words: list[str]) -> str:
    fmt = words[0]
    if len(_PRINTF_VERB.findall(fmt.replace("%%", ""))) != 1:
        raise ValueError(f"printf format {fmt!r} must take exactly one value")
    return fmt


def _parse_action(text: str) -> _Action:
    stages = [stage.strip() for stage in text.split("|")]
    try:
        first = shlex.split(stages[0])
    except ValueError as exc:
        raise ValueError(f"cannot read {{{{ {text} }}}}: {exc}") from exc
    steps: list[tuple[str, str]] = []
    if first and first[0] == "printf" and len(first) == 3:
        operand = _parse_operand(first[2])
        steps.append(("printf", _parse_printf(first[1:2])))
    elif len(first) == 1:
        operand = _parse_operand(first[0])
    else:
        raise ValueError(f"cannot read {{{{ {text} }}}}; expected $value, $labels.NAME or printf")
    for stage in stages[1:]:
        words = shlex.split(stage)
        if words and words[0] == "printf" and len(words) == 2:
            steps.append(("printf", _parse_printf(words[1:])))
        elif len(words) == 1 and words[0] in _FUNCTIONS:
            steps.append((words[0], ""))
        else:
            known = ", ".join([*_FUNCTIONS, 'printf "FORMAT"'])
            raise ValueError(f"unknown function {stage!r}; use one of {known}")
    return _Action(operand, tuple(steps))


@dataclass(frozen=True)
class Template:
    """A parsed annotation text; parse once when rules load, render on every evaluation."""

    text: str
    parts: tuple[str | _Action, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse `text`; raise ValueError naming the first action that is not supported."""
        parts: list[str | _Action] = []
        position = 0
        for match in _ACTION.finditer(text):
            parts.append(text[position : match.start()])
            parts.append(replace(_parse_action(match.group(1)), source=match.group(0)))
            position = match.end()
        parts.append(text[position:])
        if "{{" in text[position:] or any("{{" in p for p in parts if isinstance(p, str)):
            raise ValueError("an opening '{{' has no closing '}}'")
        return cls(text, tuple(part for part in parts if part != ""))

    def render(
        self, value: float, labels: Mapping[str, str], values: Mapping[str, float] | None = None
    ) -> str:
        """Return the text with every action replaced by its value; `values` are the rule's."""
        return "".join(
            part if isinstance(part, str) else part.render(value, labels, values)
            for part in self.parts
        )

    def bind(self, values: Mapping[str, float]) -> str:
        """Return the text with the rule's numbers written in, other actions left for Prometheus."""
        return "".join(
            part
            if isinstance(part, str)
            else part.source
            if part.rule_value is None
            else part.render(math.nan, {}, values)
            for part in self.parts
        )

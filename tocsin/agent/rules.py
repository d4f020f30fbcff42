"""Threshold rules: the model, and loading them from YAML with errors that say where and why."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

from tocsin.agent.checks import GAUGES as CHECK_GAUGES
from tocsin.agent.errors import ConfigError, RuleError
from tocsin.agent.limits import MAX_LABELS, MAX_NAME, text_problem
from tocsin.agent.templates import Template
from tocsin.common.durations import format_duration, parse_duration
from tocsin.common.yamlsource import LinedDict, load_text, shown

# The gauges rules may read, with the labels their series carry.
GAUGES: Mapping[str, tuple[str, ...]] = {
    "tocsin_cpu_usage_ratio": (),
    "tocsin_cpu_iowait_ratio": (),
    "tocsin_memory_used_ratio": (),
    "tocsin_swap_used_ratio": (),
    "tocsin_disk_busy_ratio": ("device",),
    "tocsin_filesystem_used_ratio": ("mountpoint", "fstype", "device"),
    "tocsin_load1": (),
    "tocsin_load5": (),
    "tocsin_load15": (),
    "tocsin_load_per_cpu": (),
    "tocsin_timex_offset_seconds": (),
    "tocsin_timex_sync_status": (),
    "tocsin_timex_maxerror_seconds": (),
    "tocsin_timex_estimated_error_seconds": (),
    "tocsin_agent_storage_failing": (),
    "tocsin_agent_watchdog": (),
    # The agent's own delivery (tocsin.agent.deliverymetrics), present while it pushes.
    "tocsin_agent_spool_oldest_age_seconds": (),
    "tocsin_agent_dead_letters": ("reason",),
    "tocsin_agent_receiver_auth_failed": (),
    "tocsin_filesystem_avail_bytes": ("mountpoint", "fstype", "device"),
    "tocsin_filesystem_files_used_ratio": ("mountpoint", "fstype", "device"),
    "tocsin_filesystem_readonly": ("mountpoint", "fstype", "device"),
    "tocsin_boot_time_seconds": (),
    "tocsin_uptime_seconds": (),
    "tocsin_vmstat_oom_kill": (),
    "tocsin_nf_conntrack_used_ratio": (),
    "tocsin_filefd_used_ratio": (),
    "tocsin_md_disks": ("device", "state"),
    "tocsin_md_disks_missing": ("device",),
    "tocsin_systemd_units_failed": (),
    # Counters: read through a function (increase, rate).
    "tocsin_network_receive_errs_total": ("device",),
    "tocsin_network_transmit_errs_total": ("device",),
    "tocsin_network_receive_drop_total": ("device",),
    "tocsin_network_transmit_drop_total": ("device",),
    "tocsin_context_switches_total": (),
    "tocsin_forks_total": (),
    # Service checks (tocsin.agent.checks), present for the checks a config names.
    **CHECK_GAUGES,
}
# What a rule may compute from the agent's recent samples of its metric (tocsin.agent.history).
FUNCTIONS = ("increase", "rate", "predict_linear")
OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SEVERITIES = ("critical", "warning", "info")
RESERVED_LABELS = ("alertname", "severity")
_KEYS = (
    "name",
    "metric",
    "match",
    "op",
    "threshold",
    "clear",
    "for",
    "severity",
    "labels",
    "annotations",
    "function",
    "window",
    "horizon",
    "override",
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUNDLED = "tocsin_rules/agent.yml"


@dataclass(frozen=True)
class Rule:
    """One threshold rule: fire when `metric op threshold` holds for `for_seconds`, clear at `clear`."""

    name: str
    metric: str
    op: str
    threshold: float
    clear: float
    for_seconds: float = 0.0
    severity: str = "warning"
    match: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, Template], ...] = ()
    source: str = ""
    function: str = ""
    window: float = 0.0
    horizon: float = 0.0
    override: bool = False

    # Cached: the evaluator asks for it every cycle, and a rule never changes.
    @cached_property
    def series(self) -> str:
        """Return the name of the series the rule compares: its metric, or its function of it."""
        if not self.function:
            return self.metric
        window = format_duration(self.window)
        if self.function == "predict_linear":
            return f"predict_linear({self.metric}[{window}], {self.horizon:g})"
        return f"{self.function}({self.metric}[{window}])"

    @cached_property
    def key(self) -> str:
        """Return the identity of the rule that survives reloads and restarts."""
        match = ",".join(f"{key}={value}" for key, value in self.match)
        return f"{self.name}/{self.severity}/{match}"

    @property
    def values(self) -> dict[str, float]:
        """Return the rule's own numbers, which annotations show as $threshold, $for, ..."""
        return {
            "threshold": self.threshold,
            "clear": self.clear,
            "for": self.for_seconds,
            "window": self.window,
            "horizon": self.horizon,
        }

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Tell whether a series with these labels is one this rule watches."""
        return all(labels.get(key) == value for key, value in self.match)

    def breaches(self, value: float) -> bool:
        """Tell whether a value crosses the firing threshold."""
        return OPERATORS[self.op](value, self.threshold)

    def holds(self, value: float) -> bool:
        """Tell whether a firing alert stays firing: the value has not come back past `clear`."""
        return OPERATORS[self.op](value, self.clear)


def _gauges(metric: object) -> str:
    """Name the gauges closest to a wrong one, or the first few, keeping the fault one line."""
    # Imported for this error only: difflib costs the running agent ~0.2 MiB of its budget.
    import difflib

    close = difflib.get_close_matches(metric, GAUGES, n=4) if isinstance(metric, str) else []
    names = close or list(GAUGES)[:8]
    return ", ".join(names) + f" (README lists all {len(GAUGES)})"


def _where(source: str, node: LinedDict, key: str | None = None) -> str:
    line = node.line_of(key) if key else node.line
    return f"{source}:{line}" if line else source


def _fail(source: str, node: LinedDict, name: str, key: str, problem: str) -> RuleError:
    return RuleError(f"{_where(source, node, key)}: rule {shown(name)}: {key!r} {problem}")


def _string_map(
    raw: Any, source: str, node: LinedDict, name: str, key: str
) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise _fail(source, node, name, key, f"is {shown(raw)}; expected a mapping of name: text")
    if len(raw) > MAX_LABELS:
        raise _fail(
            source, node, name, key, f"has {len(raw)} entries; a bridge accepts {MAX_LABELS}"
        )
    pairs = []
    for label, value in raw.items():
        if not _NAME.fullmatch(label) or len(label) > MAX_NAME:
            raise _fail(
                source,
                node,
                name,
                key,
                f"has label name {shown(label)}; use [A-Za-z0-9_], at most {MAX_NAME} characters",
            )
        if not isinstance(value, str):
            raise _fail(
                source,
                node,
                name,
                key,
                f"has {label}: {shown(value)}; quote it to make it a string",
            )
        problem = text_problem(value)
        if problem is not None:
            raise _fail(source, node, name, key, f"has {label}: the text {problem}")
        pairs.append((label, value))
    return tuple(pairs)


def _number(raw: Any, source: str, node: LinedDict, name: str, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise _fail(source, node, name, key, f"is {shown(raw)}; expected a number such as 0.9")
    return float(raw)


def _duration(node: LinedDict, source: str, name: str, key: str) -> float:
    if key not in node:
        raise _fail(source, node, name, key, "is missing; give a duration such as '5m'")
    raw = node[key]
    try:
        seconds = parse_duration(raw) if isinstance(raw, str) else 0.0
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise _fail(source, node, name, key, f"is {shown(raw)}; expected a duration such as '5m'")
    return seconds


def _flag(node: LinedDict, source: str, name: str, key: str) -> bool:
    value = node.get(key, False)
    if not isinstance(value, bool):
        raise _fail(source, node, name, key, f"is {shown(value)}; expected true or false")
    return value


def _function(node: LinedDict, source: str, name: str) -> tuple[str, float, float]:
    """Read `function`, `window` and `horizon`: what the rule computes from recent samples."""
    function = node.get("function")
    if function is None:
        for key in ("window", "horizon"):
            if key in node:
                raise _fail(source, node, name, key, "needs a 'function' to apply it to")
        return "", 0.0, 0.0
    if function not in FUNCTIONS:
        raise _fail(
            source,
            node,
            name,
            "function",
            f"is {shown(function)}; use one of {', '.join(FUNCTIONS)}",
        )
    window = _duration(node, source, name, "window")
    if function != "predict_linear":
        if "horizon" in node:
            raise _fail(source, node, name, "horizon", "is only for function predict_linear")
        return function, window, 0.0
    return function, window, _duration(node, source, name, "horizon")


def parse_rule(node: Any, source: str, position: int) -> Rule:
    """Build one rule from its YAML mapping; raise RuleError naming the file, line and key."""
    if not isinstance(node, LinedDict):
        raise RuleError(
            f"{source}: rule #{position} is {shown(node)}; expected a mapping with a name"
        )
    name = node.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RuleError(
            f"{_where(source, node, 'name')}: rule #{position}: 'name' is {shown(name)}; "
            "expected a name such as HostCpuHigh"
        )
    unknown = sorted(set(node) - set(_KEYS))
    if unknown:
        raise _fail(source, node, name, unknown[0], f"is not a rule key; use {', '.join(_KEYS)}")
    metric = node.get("metric")
    if not isinstance(metric, str) or metric not in GAUGES:
        raise _fail(
            source, node, name, "metric", f"is {shown(metric)}; use one of {_gauges(metric)}"
        )
    match = tuple(sorted(_string_map(node.get("match"), source, node, name, "match")))
    for label, _ in match:
        if label not in GAUGES[metric]:
            known = ", ".join(GAUGES[metric]) or "no labels"
            raise _fail(source, node, name, "match", f"has {shown(label)}; {metric} has {known}")
    op = node.get("op", ">")
    if op not in OPERATORS:
        raise _fail(source, node, name, "op", f"is {shown(op)}; use one of {', '.join(OPERATORS)}")
    if "threshold" not in node:
        raise _fail(source, node, name, "threshold", "is missing; give a number such as 0.9")
    threshold = _number(node["threshold"], source, node, name, "threshold")
    clear = _number(node.get("clear", threshold), source, node, name, "clear")
    if (op in (">", ">=") and clear > threshold) or (op in ("<", "<=") and clear < threshold):
        side = "at or below" if op in (">", ">=") else "at or above"
        raise _fail(
            source,
            node,
            name,
            "clear",
            f"is {clear:g}; it must be {side} the threshold {threshold:g}",
        )
    raw_for = node.get("for", "0s")
    try:
        for_seconds = parse_duration(raw_for)
    except ValueError:
        raise _fail(
            source, node, name, "for", f"is {shown(raw_for)}; expected a duration such as '5m'"
        ) from None
    severity = node.get("severity", "warning")
    if severity not in SEVERITIES:
        raise _fail(
            source,
            node,
            name,
            "severity",
            f"is {shown(severity)}; use one of {', '.join(SEVERITIES)}",
        )
    function, window, horizon = _function(node, source, name)
    labels = tuple(sorted(_string_map(node.get("labels"), source, node, name, "labels")))
    for label, _ in labels:
        if label in RESERVED_LABELS:
            raise _fail(
                source, node, name, "labels", f"sets {shown(label)}; use the rule's own key"
            )
    annotations = []
    for key, text in _string_map(node.get("annotations"), source, node, name, "annotations"):
        try:
            annotations.append((key, Template.parse(text)))
        except ValueError as exc:
            raise _fail(source, node, name, "annotations", f"{key}: {exc}") from None
    return Rule(
        name=name,
        metric=metric,
        op=op,
        threshold=threshold,
        clear=clear,
        for_seconds=for_seconds,
        severity=severity,
        match=match,
        labels=labels,
        annotations=tuple(annotations),
        source=_where(source, node),
        function=function,
        window=window,
        horizon=horizon,
        override=_flag(node, source, name, "override"),
    )


def merge_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Keep each rule once: a later one with `override: true` replaces the earlier in its place.

    Two rules with one name, severity, match and labels are otherwise an error naming both
    places: silently keeping either would evaluate a rule the operator did not mean.
    """
    seen: dict[tuple[object, ...], Rule] = {}
    for rule in rules:
        identity = (rule.name, rule.severity, rule.match, tuple(sorted(rule.labels)))
        earlier = seen.get(identity)
        if earlier is not None and not rule.override:
            raise RuleError(
                f"{rule.source}: rule {rule.name!r}: same name, severity, match and labels as the "
                f"rule at {earlier.source}; rename one, change its severity, or set "
                "'override: true' on this one to replace the other"
            )
        seen[identity] = rule
    return tuple(seen.values())


def parse_rules(items: Sequence[Any], source: str) -> tuple[Rule, ...]:
    """Build a list of rules, each once (see merge_rules)."""
    return merge_rules(parse_rule(item, source, index + 1) for index, item in enumerate(items))


def parse_rules_document(text: str, source: str) -> tuple[Rule, ...]:
    """Read a rules file's text: a mapping whose `rules` key lists the rules."""
    document = load_text(text, source, error=ConfigError)
    if not isinstance(document, LinedDict) or not isinstance(document.get("rules"), list):
        raise RuleError(f"{source}: expected a mapping with a 'rules' list, e.g. 'rules: [...]'")
    return parse_rules(document["rules"], source)


def load_rules_file(path: Path) -> tuple[Rule, ...]:
    """Read rules from a file; an unreadable file is a RuleError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RuleError(f"{path}: rules file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read rules: {exc}") from exc
    return parse_rules_document(text, str(path))


def bundled_rules_text() -> str:
    """Return the text of the default rules shipped with the agent."""
    return files("tocsin_rules").joinpath("agent.yml").read_text(encoding="utf-8")


def load_bundled_rules() -> tuple[Rule, ...]:
    """Load the default rules shipped with the agent."""
    return parse_rules_document(bundled_rules_text(), BUNDLED)

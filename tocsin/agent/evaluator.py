"""Rule evaluation as a pure state machine: inactive -> pending -> firing -> resolved.

Prometheus semantics: a breach starts a pending alert; one that is still breaching after
`for` fires; a pending alert whose breach ends is dropped silently. A firing alert stays
firing until its value is back past the rule's `clear` level (hysteresis), or its series
disappears (an unmounted filesystem). A metric absent from a whole sample (the first pass
has no rates yet) changes nothing: missing data is not recovery.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from tocsin.agent.rules import Rule
from tocsin.agent.sample import Sample, Series

LabelSet = tuple[tuple[str, str], ...]
Status = Literal["pending", "firing"]
Change = Literal["pending", "firing", "resolved", "cancelled"]


@dataclass(frozen=True)
class AlertState:
    """One active alert: a rule applied to one series, pending or firing."""

    rule: str
    metric: str
    labels: LabelSet
    status: Status
    active_since: float
    value: float
    annotations: LabelSet = ()
    fired_at: float | None = None

    @property
    def starts_at(self) -> float:
        """Return when the alert fired, the startsAt a receiver sees."""
        return self.fired_at if self.fired_at is not None else self.active_since

    def label(self, name: str) -> str:
        """Return one label's value, or '' when absent."""
        return dict(self.labels).get(name, "")


@dataclass(frozen=True)
class Transition:
    """A change of one alert at `at`; `alert` is its state after (or, if ended, just before) it."""

    change: Change
    alert: AlertState
    at: float


States = Mapping[LabelSet, AlertState]


def rule_key(rule: Rule) -> str:
    """Return the identity of a rule that survives reloads and restarts."""
    return rule.key


@dataclass(frozen=True)
class Evaluator:
    """Apply rules to samples; `base_labels` (instance, config labels) go on every alert."""

    rules: tuple[Rule, ...]
    base_labels: LabelSet = ()

    @cached_property
    def _keys(self) -> frozenset[str]:
        return frozenset(rule.key for rule in self.rules)

    def alert_labels(self, rule: Rule, series_labels: Mapping[str, str]) -> LabelSet:
        """Return an alert's label set: series labels, then config, rule, name and severity."""
        labels = dict(series_labels)
        labels.update(self.base_labels)
        labels.update(rule.labels)
        labels.update(alertname=rule.name, severity=rule.severity)
        return tuple(sorted((key, value) for key, value in labels.items() if value != ""))

    def evaluate(
        self, states: States, sample: Sample, now: float
    ) -> tuple[dict[LabelSet, AlertState], list[Transition]]:
        """Return the alerts active after `sample` at wall time `now`, and what changed."""
        new_states: dict[LabelSet, AlertState] = {}
        seen: set[LabelSet] = set()
        transitions: list[Transition] = []
        # Each rule reads the series of one name: group them once, not once per rule.
        by_name: dict[str, list[Series]] = {}
        for series in sample.gauges:
            found = by_name.get(series.name)
            if found is None:
                by_name[series.name] = [series]
            else:
                found.append(series)
        present = by_name.keys()
        rules = self._keys
        active = {old.rule for old in states.values()}
        for rule in self.rules:
            # A rule with no alert open only needs the series that breach: on a host with
            # hundreds of interfaces, building every series' label set would cost the cycle.
            quiet = rule.key not in active
            for series in by_name.get(rule.series, ()):
                if quiet and not rule.breaches(series.value):
                    continue
                if not rule.matches(series.labels):
                    continue
                labels = self.alert_labels(rule, series.labels)
                if labels in seen:
                    continue
                seen.add(labels)
                state, changes = _step(rule, states.get(labels), labels, series.value, now)
                if state is not None:
                    new_states[labels] = state
                transitions.extend(Transition(change, alert, now) for change, alert in changes)
        for labels, old in states.items():
            if labels in seen:
                continue
            if old.rule in rules and old.metric not in present:
                new_states[labels] = old
                continue
            transitions.append(Transition(_ending(old), old, now))
        # Within one instant, report what ended before what began.
        transitions.sort(key=lambda t: t.change not in ("resolved", "cancelled"))
        return new_states, transitions


def _ending(state: AlertState) -> Change:
    return "resolved" if state.status == "firing" else "cancelled"


def _render(rule: Rule, labels: LabelSet, value: float) -> LabelSet:
    label_map = dict(labels)
    values = rule.values
    return tuple(
        (key, template.render(value, label_map, values)) for key, template in rule.annotations
    )


def _step(
    rule: Rule, old: AlertState | None, labels: LabelSet, value: float, now: float
) -> tuple[AlertState | None, Iterable[tuple[Change, AlertState]]]:
    """Advance one alert by one reading of its series."""
    valid = not math.isnan(value)
    if old is not None and old.status == "firing":
        annotations = _render(rule, labels, value)
        if valid and rule.holds(value):
            return replace(old, value=value, annotations=annotations), ()
        return None, (("resolved", replace(old, value=value, annotations=annotations)),)
    if not (valid and rule.breaches(value)):
        if old is None:
            return None, ()
        # Say the reading that cancelled it, not the last one above the threshold (rendered
        # only then: most series breach nothing, most cycles).
        if not valid:
            return None, (("cancelled", old),)
        ended = replace(old, value=value, annotations=_render(rule, labels, value))
        return None, (("cancelled", ended),)
    # Rendered only for active alerts: most series breach nothing, most cycles.
    annotations = _render(rule, labels, value)
    since = old.active_since if old is not None else now
    state = AlertState(rule_key(rule), rule.series, labels, "pending", since, value, annotations)
    if now - since >= rule.for_seconds:
        fired = replace(state, status="firing", fired_at=now)
        return fired, (("firing", fired),)
    return state, (() if old is not None else (("pending", state),))

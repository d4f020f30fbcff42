"""The evaluator: pending, firing and resolved with `for` and `clear`, one alert per label set."""

from __future__ import annotations

from dataclasses import replace

from tests.agent.fakes import cpu, sample
from tocsin.agent.evaluator import Evaluator
from tocsin.agent.rules import Rule
from tocsin.agent.templates import Template

CPU = Rule(
    name="HostCpuHigh",
    metric="tocsin_cpu_usage_ratio",
    op=">",
    threshold=0.9,
    clear=0.8,
    for_seconds=60.0,
    severity="warning",
    annotations=(("summary", Template.parse("CPU {{ $value | humanizePercentage }}")),),
)
FS = Rule(
    name="HostFilesystemFull",
    metric="tocsin_filesystem_used_ratio",
    op=">",
    threshold=0.9,
    clear=0.9,
    annotations=(("summary", Template.parse("{{ $labels.mountpoint }} full")),),
)
EVALUATOR = Evaluator((CPU,), (("instance", "web1"), ("env", "prod")))


def run(evaluator: Evaluator, readings: list[tuple[float, float]]) -> list[str]:
    """Feed (time, cpu value) readings and return the changes seen, as 'change@time'."""
    states: dict = {}
    seen = []
    for at, value in readings:
        states, transitions = evaluator.evaluate(states, cpu(value), at)
        seen += [f"{t.change}@{at:g}" for t in transitions]
    return seen


def test_breach_is_pending_until_for_has_passed_then_fires() -> None:
    assert run(EVALUATOR, [(0, 0.95), (30, 0.95), (60, 0.95)]) == ["pending@0", "firing@60"]


def test_pending_alert_that_recovers_is_cancelled_silently() -> None:
    assert run(EVALUATOR, [(0, 0.95), (30, 0.5), (90, 0.5)]) == ["pending@0", "cancelled@30"]


def test_firing_alert_stays_firing_between_clear_and_threshold() -> None:
    readings = [(0, 0.95), (60, 0.95), (70, 0.85), (80, 0.81)]
    assert run(EVALUATOR, readings) == ["pending@0", "firing@60"]


def test_firing_alert_resolves_once_back_past_clear() -> None:
    readings = [(0, 0.95), (60, 0.95), (70, 0.8), (80, 0.95)]
    assert run(EVALUATOR, readings) == ["pending@0", "firing@60", "resolved@70", "pending@80"]


def test_rule_without_for_fires_at_once() -> None:
    evaluator = Evaluator((FS,))
    states, transitions = evaluator.evaluate(
        {}, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.95)), 5.0
    )
    assert [t.change for t in transitions] == ["firing"]


def test_one_alert_per_matching_label_set() -> None:
    evaluator = Evaluator((FS,))
    reading = sample(
        ("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.95),
        ("tocsin_filesystem_used_ratio", {"mountpoint": "/data"}, 0.99),
        ("tocsin_filesystem_used_ratio", {"mountpoint": "/home"}, 0.10),
    )
    states, transitions = evaluator.evaluate({}, reading, 0.0)
    assert sorted(t.alert.label("mountpoint") for t in transitions) == ["/", "/data"]
    assert len(states) == 2


def test_match_restricts_the_series_a_rule_watches() -> None:
    root_only = Rule("RootFull", FS.metric, ">", 0.9, 0.9, match=(("mountpoint", "/"),))
    reading = sample(
        ("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.95),
        ("tocsin_filesystem_used_ratio", {"mountpoint": "/data"}, 0.99),
    )
    _, transitions = Evaluator((root_only,)).evaluate({}, reading, 0.0)
    assert [t.alert.label("mountpoint") for t in transitions] == ["/"]


def test_alert_labels_join_instance_config_rule_series_name_and_severity() -> None:
    rule = Rule(
        "RootFull", FS.metric, ">", 0.9, 0.9, severity="critical", labels=(("team", "ops"),)
    )
    evaluator = Evaluator((rule,), (("instance", "web1"), ("env", "prod")))
    reading = sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/", "fstype": "ext4"}, 1.0))
    _, transitions = evaluator.evaluate({}, reading, 0.0)
    assert dict(transitions[0].alert.labels) == {
        "alertname": "RootFull",
        "severity": "critical",
        "instance": "web1",
        "env": "prod",
        "team": "ops",
        "mountpoint": "/",
        "fstype": "ext4",
    }


def test_annotations_render_value_and_labels() -> None:
    _, transitions = Evaluator((FS,)).evaluate(
        {}, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/var"}, 0.95)), 0.0
    )
    assert dict(transitions[0].alert.annotations) == {"summary": "/var full"}


def test_firing_alert_keeps_its_start_and_follows_the_value() -> None:
    states, _ = EVALUATOR.evaluate({}, cpu(0.95), 0.0)
    states, _ = EVALUATOR.evaluate(states, cpu(0.95), 60.0)
    states, _ = EVALUATOR.evaluate(states, cpu(0.97), 70.0)
    (alert,) = states.values()
    assert (alert.status, alert.starts_at, alert.active_since) == ("firing", 60.0, 0.0)
    assert dict(alert.annotations) == {"summary": "CPU 97%"}


def test_metric_missing_from_a_sample_changes_nothing() -> None:
    states, _ = EVALUATOR.evaluate({}, cpu(0.95), 0.0)
    states, _ = EVALUATOR.evaluate(states, cpu(0.95), 60.0)
    after, transitions = EVALUATOR.evaluate(states, sample(), 70.0)
    assert (after, transitions) == (states, [])


def test_series_that_disappears_resolves_its_alert() -> None:
    evaluator = Evaluator((FS,))
    states, _ = evaluator.evaluate(
        {}, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/mnt"}, 0.95)), 0.0
    )
    states, transitions = evaluator.evaluate(
        states, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.1)), 10.0
    )
    assert [(t.change, t.alert.label("mountpoint")) for t in transitions] == [("resolved", "/mnt")]
    assert states == {}


def test_removed_rule_resolves_its_firing_alert() -> None:
    states, _ = Evaluator((FS,)).evaluate(
        {}, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.95)), 0.0
    )
    states, transitions = Evaluator(()).evaluate(states, sample(), 10.0)
    assert [t.change for t in transitions] == ["resolved"]


def test_nan_neither_fires_nor_holds() -> None:
    assert run(Evaluator((CPU,)), [(0, float("nan"))]) == []


def test_within_one_evaluation_endings_come_before_beginnings() -> None:
    states, _ = Evaluator((FS,)).evaluate(
        {}, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.95)), 0.0
    )
    _, transitions = Evaluator((replace(FS, name="Other"),)).evaluate(
        states, sample(("tocsin_filesystem_used_ratio", {"mountpoint": "/"}, 0.95)), 1.0
    )
    assert [(t.change, t.alert.label("alertname")) for t in transitions] == [
        ("resolved", "HostFilesystemFull"),
        ("firing", "Other"),
    ]


def test_a_cancelled_alert_carries_the_reading_that_cancelled_it() -> None:
    states, _ = EVALUATOR.evaluate({}, cpu(0.95), 0)
    _, transitions = EVALUATOR.evaluate(states, cpu(0.42), 30)
    [cancelled] = transitions
    assert (cancelled.change, cancelled.alert.value) == ("cancelled", 0.42)
    assert dict(cancelled.alert.annotations)["summary"] == "CPU 42%"

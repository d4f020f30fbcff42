"""Rules over the agent's own recent samples: increase, rate and predict_linear, in the engine
(tocsin.agent.history), in the config's rule syntax and in the PromQL twin `rules export` writes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from tests.agent.fakes import FakeClock, Receiver, ScriptedSampler, sample
from tests.peers import require_binary
from tocsin.agent.config import AgentConfig, PushConfig, SpoolConfig
from tocsin.agent.daemon import Agent
from tocsin.agent.errors import RuleError
from tocsin.agent.evaluator import Evaluator
from tocsin.agent.export import export_prometheus, expression
from tocsin.agent.history import POINTS, History, increase, predict_linear, rate
from tocsin.agent.rules import load_bundled_rules, parse_rules_document
from tocsin.agent.sample import Sample

FS = {"mountpoint": "/srv", "fstype": "ext4", "device": "/dev/sdc1"}


def rules(text: str) -> tuple:  # type: ignore[type-arg]
    return parse_rules_document(text, "rules.yml")


def test_increase_counts_a_reset_as_growth_from_zero() -> None:
    assert increase([(0, 5), (10, 7), (20, 2), (30, 4)]) == 2 + 2 + 2
    assert increase([(0, 5)]) is None
    assert rate([(0, 0), (10, 5)]) == 0.5


def test_predict_linear_extends_the_least_squares_line() -> None:
    points = [(float(t), 1000.0 - 2.0 * t) for t in range(0, 100, 10)]
    assert predict_linear(points, 50.0) == pytest.approx(1000 - 2 * 140)
    assert predict_linear([(5.0, 1.0), (5.0, 2.0)], 10.0) is None


FILLING = """
rules:
  - name: HostFilesystemFillingUp
    metric: tocsin_filesystem_avail_bytes
    function: predict_linear
    window: 1h
    horizon: 4h
    op: "<"
    threshold: 0
    for: 10m
    severity: critical
    annotations:
      summary: "{{ $labels.mountpoint }} full within {{ $horizon }} at the rate of the last {{ $window }}"
"""


def test_a_filesystem_filling_fast_fires_from_the_agents_own_samples() -> None:
    loaded = rules(FILLING)
    history, evaluator = History(loaded), Evaluator(loaded, (("instance", "db-1"),))
    states: dict = {}  # type: ignore[type-arg]
    fired = []
    # 100 GB free, losing 10 GB an hour: empty in 10 h, so not within 4 h ...
    for minute in range(0, 120, 1):
        now = 1_700_000_000.0 + minute * 60
        avail = 100e9 - 10e9 * minute / 60
        raw = sample(("tocsin_filesystem_avail_bytes", FS, avail), at=now)
        states, changes = evaluator.evaluate(states, history.derive(raw, now), now)
        fired += [c for c in changes if c.change == "firing"]
    assert fired == []
    # ... then losing 30 GB an hour from 80 GB: empty in under 3 h; fires once `for` has passed.
    for minute in range(120, 240, 1):
        now = 1_700_000_000.0 + minute * 60
        avail = 80e9 - 30e9 * (minute - 120) / 60
        raw = sample(("tocsin_filesystem_avail_bytes", FS, avail), at=now)
        states, changes = evaluator.evaluate(states, history.derive(raw, now), now)
        fired += [c for c in changes if c.change == "firing"]
    (first,) = fired
    assert first.alert.label("mountpoint") == "/srv"
    assert (
        dict(first.alert.annotations)["summary"] == "/srv full within 4h at the rate of the last 1h"
    )


OOM = """
rules:
  - name: HostOomKill
    metric: tocsin_vmstat_oom_kill
    function: increase
    window: 10m
    op: ">"
    threshold: 0
"""


def test_an_oom_kill_fires_at_once_and_resolves_when_it_leaves_the_window() -> None:
    loaded = rules(OOM)
    history, evaluator = History(loaded), Evaluator(loaded)
    states: dict = {}  # type: ignore[type-arg]
    changes_by_minute = {}
    for minute, kills in enumerate([3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]):
        now = minute * 60.0
        raw = sample(("tocsin_vmstat_oom_kill", {}, float(kills)), at=now)
        states, changes = evaluator.evaluate(states, history.derive(raw, now), now)
        changes_by_minute[minute] = [c.change for c in changes]
    assert changes_by_minute[2] == ["firing"]
    assert changes_by_minute[12] == ["resolved"]
    assert [m for m, c in changes_by_minute.items() if c] == [2, 12]


def test_history_stays_bounded_and_forgets_series_that_went_away() -> None:
    history = History(rules(OOM))
    for second in range(0, 3600, 1):
        history.derive(sample(("tocsin_vmstat_oom_kill", {}, 1.0)), float(second))
    (points,) = history._series["tocsin_vmstat_oom_kill"].values()
    assert len(points) <= POINTS + 2
    history.derive(Sample(taken_at=0.0), 3600.0 + 601)
    assert history._series["tocsin_vmstat_oom_kill"] == {}
    history.use(())
    assert history._series == {}


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            "function: median\n    window: 5m",
            "rules.yml:5: rule 'R': 'function' is 'median'; use one of increase, rate, predict_linear",
        ),
        (
            "function: increase",
            "rules.yml:2: rule 'R': 'window' is missing; give a duration such as '5m'",
        ),
        ("window: 5m", "rules.yml:5: rule 'R': 'window' needs a 'function' to apply it to"),
        (
            "function: rate\n    window: 5m\n    horizon: 1h",
            "rules.yml:7: rule 'R': 'horizon' is only for function predict_linear",
        ),
        (
            "function: predict_linear\n    window: 5m",
            "rules.yml:2: rule 'R': 'horizon' is missing; give a duration such as '5m'",
        ),
    ],
)
def test_a_bad_function_names_file_line_and_key(extra: str, problem: str) -> None:
    text = (
        f"rules:\n  - name: R\n    metric: tocsin_vmstat_oom_kill\n    threshold: 0\n    {extra}\n"
    )
    with pytest.raises(RuleError) as raised:
        rules(text)
    assert str(raised.value) == problem


def test_thresholds_in_annotations_come_from_the_rule() -> None:
    text = """
rules:
  - name: HostMemoryHigh
    metric: tocsin_memory_used_ratio
    threshold: 0.8
    for: 90m
    annotations:
      description: "over {{ $threshold | humanizePercentage }} for {{ $for }} (now {{ $value | humanizePercentage }})"
"""
    (rule,) = rules(text)
    states, _ = Evaluator((rule,)).evaluate({}, sample(("tocsin_memory_used_ratio", {}, 0.9)), 0.0)
    (state,) = states.values()
    assert dict(state.annotations)["description"] == "over 80% for 1h30m (now 90%)"
    (exported,) = yaml.safe_load(export_prometheus([rule]))["groups"][0]["rules"]
    assert exported["annotations"]["description"] == (
        "over 80% for 1h30m (now {{ $value | humanizePercentage }})"
    )


def test_export_writes_the_promql_function() -> None:
    filling, oom = rules(FILLING)[0], rules(OOM)[0]
    assert expression(filling) == "predict_linear(tocsin_filesystem_avail_bytes[1h], 14400) < 0"
    assert expression(oom) == "increase(tocsin_vmstat_oom_kill[10m]) > 0"


def test_bundled_rules_export_passes_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    import subprocess

    path = tmp_path / "rules.yml"
    path.write_text(export_prometheus(load_bundled_rules()))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "predict_linear(tocsin_filesystem_avail_bytes[6h], 86400)" in path.read_text()


def test_the_daemon_feeds_function_rules_its_samples(tmp_path: Path, receiver: Receiver) -> None:
    sampler, clock = ScriptedSampler(), FakeClock()
    config = AgentConfig(
        source="test",
        state_dir=tmp_path / "state",
        spool=SpoolConfig(tmp_path / "spool"),
        instance="app-1",
        rules=rules(OOM),
        listen=None,
        push=PushConfig(receiver.url, "tok"),
    )
    agent = Agent(config, sampler_factory=lambda _: sampler, clock=clock)
    agent.start()
    try:
        fired = []
        for kills in (0.0, 0.0, 1.0):
            clock.advance(10)
            sampler.next = sample(("tocsin_vmstat_oom_kill", {}, kills))
            fired += [t.alert.label("alertname") for t in agent.tick() if t.change == "firing"]
    finally:
        agent.stop()
    assert fired == ["HostOomKill"]


SHARED = """
rules:
  - {name: Oom, metric: tocsin_vmstat_oom_kill, function: increase, window: 10m, op: ">", threshold: 0}
  - {name: OomShort, metric: tocsin_vmstat_oom_kill, function: increase, window: 2m, op: ">", threshold: 0}
  - {name: OomRate, metric: tocsin_vmstat_oom_kill, function: rate, window: 5m, op: ">", threshold: 0}
  - {name: Fill24, metric: tocsin_vmstat_oom_kill, function: predict_linear, window: 10m, horizon: 24h, op: "<", threshold: 0}
  - {name: Fill4, metric: tocsin_vmstat_oom_kill, function: predict_linear, window: 10m, horizon: 4h, op: "<", threshold: 0}
"""


def reference(loaded: tuple, values: list[tuple[float, float | None]]) -> list[dict[str, float]]:  # type: ignore[type-arg]
    """Each step's function values as the plain algorithm computes them: thin, filter, walk."""
    longest = max(rule.window for rule in loaded)
    points: list[tuple[float, float]] = []
    out = []
    for now, value in values:
        if value is not None:
            if len(points) > 1 and now - points[-2][0] <= longest / POINTS:
                points.pop()
            points.append((now, value))
            points = [point for point in points if point[0] >= now - longest]
        step = {}
        for rule in loaded:
            recent = [point for point in points if point[0] >= now - rule.window]
            if rule.function == "increase":
                found = increase(recent)
            elif rule.function == "rate":
                found = rate(recent)
            else:
                found = predict_linear(recent, rule.horizon)
            if found is not None:
                step[rule.series] = found
        out.append(step)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_shortcuts_for_still_series_and_shared_fits_answer_as_walking_every_point(
    seed: int,
) -> None:
    pick = random.Random(seed)
    loaded = rules(SHARED)
    history = History(loaded)
    labels = {"device": "eth0"}
    now, value = 0.0, 5.0
    steps: list[tuple[float, float | None]] = []
    for _ in range(400):
        now += pick.choice([0.5, 1.0, 10.0, 30.0, 200.0])
        roll = pick.random()
        if roll < 0.1:
            value = 0.0  # a counter reset
        elif roll < 0.3:
            value += pick.choice([1.0, 2.0])
        steps.append((now, None if pick.random() < 0.05 else value))
    got = []
    for at, seen in steps:
        raw = sample() if seen is None else sample(("tocsin_vmstat_oom_kill", labels, seen))
        derived = history.derive(raw, at)
        got.append({s.name: s.value for s in derived.gauges if s.name != "tocsin_vmstat_oom_kill"})
    expected = reference(loaded, steps)
    assert len(got) == len(expected)
    for step, theirs in enumerate(expected):
        mine = got[step]
        assert mine.keys() == theirs.keys(), step
        for name, found in theirs.items():
            assert mine[name] == pytest.approx(found, rel=1e-9, abs=1e-6), (step, name)

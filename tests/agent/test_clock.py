"""Time is watched: a host clock far behind the receiver's loses no alert and is reported.

The slow clock is an injected one, 600 s behind; the receiver is a real HTTP server whose
Date header tells the true time.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.agent.fakes import FakeClock, Receiver, ScriptedSampler, cpu, sample
from tests.agent.test_daemon import ManualPusher, make_config
from tocsin.agent.config import AgentConfig, PushConfig
from tocsin.agent.daemon import Agent, push_ttl
from tocsin.agent.deadletters import DeadLetters
from tocsin.agent.evaluator import Evaluator
from tocsin.agent.push import Receiver as Client
from tocsin.agent.rules import load_bundled_rules
from tocsin.agent.spool import Spool

BEHIND = 600.0


def slow_agent(tmp_path: Path, receiver: Receiver, clock_skew: float) -> tuple[Agent, FakeClock]:
    clock = FakeClock(time.time() - BEHIND)
    config = make_config(
        tmp_path, None, push=PushConfig(receiver.url, None, resend=60.0, clock_skew=clock_skew)
    )

    def pusher(config: AgentConfig, spool: Spool) -> ManualPusher:
        assert config.push is not None
        client = Client(config.push.url, None, 2.0)
        letters = DeadLetters(config.state_dir / "dead-letters.jsonl")
        return ManualPusher(client, spool, ttl=push_ttl(config), clock=clock, dead_letters=letters)

    sampler = ScriptedSampler(cpu(0.95))
    agent = Agent(config, sampler_factory=lambda _: sampler, pusher_factory=pusher, clock=clock)
    agent.start()
    return agent, clock


def fire(agent: Agent, clock: FakeClock) -> None:
    for step in (0.0, 60.0):
        clock.advance(step)
        agent.tick()
        assert isinstance(agent.pusher, ManualPusher)
        agent.pusher.step()


def test_a_clock_600s_behind_still_sends_alerts_that_end_in_the_future(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    agent, clock = slow_agent(tmp_path, receiver, clock_skew=BEHIND + 60)
    try:
        with caplog.at_level(logging.WARNING, logger="tocsin.agent.clockcheck"):
            fire(agent, clock)
        (sent,) = receiver.alerts()
        ends = datetime.fromisoformat(sent["endsAt"].replace("Z", "+00:00")).timestamp()
        assert ends > time.time() + 60
        (warning,) = [r.getMessage() for r in caplog.records]
        assert "s behind the receiver's: fix its time sync" in warning
        assert "drops" not in warning
        agent.exposition.refresh()
        body = agent.exposition.body(gzipped=False).decode()
        line = next(x for x in body.splitlines() if x.startswith("tocsin_agent_receiver_clock"))
        assert abs(float(line.split()[1]) - (time.time() - clock())) < 3
    finally:
        agent.stop()


def test_a_skew_beyond_the_allowance_is_called_out_as_losing_alerts(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    agent, clock = slow_agent(tmp_path, receiver, clock_skew=0.0)
    try:
        with caplog.at_level(logging.WARNING, logger="tocsin.agent.clockcheck"):
            fire(agent, clock)
        (warning,) = [r.getMessage() for r in caplog.records]
        assert (
            "Alertmanager drops pushed alerts as already ended (push.clock_skew is 0s)" in warning
        )
    finally:
        agent.stop()


def test_push_ttl_adds_the_clock_skew_allowance(tmp_path: Path) -> None:
    config = make_config(tmp_path, None, push=PushConfig("http://127.0.0.1:1", clock_skew=300.0))
    assert push_ttl(config) == 4 * 60.0 + 300.0


@pytest.mark.parametrize(
    ("series", "value", "alert", "labels"),
    [
        ("tocsin_timex_offset_seconds", -0.2, "HostClockSkew", {"direction": "behind"}),
        ("tocsin_timex_offset_seconds", 0.2, "HostClockSkew", {"direction": "ahead"}),
        ("tocsin_timex_sync_status", 0.0, "HostClockNotSynchronising", {}),
    ],
)
def test_the_bundled_clock_rules_fire_after_ten_minutes(
    series: str, value: float, alert: str, labels: dict[str, str]
) -> None:
    evaluator = Evaluator(load_bundled_rules(), (("instance", "web1"),))
    states: dict = {}  # type: ignore[type-arg]
    fired = []
    for minute in range(12):
        states, changes = evaluator.evaluate(states, sample((series, {}, value)), minute * 60.0)
        fired += [(minute, dict(t.alert.labels)) for t in changes if t.change == "firing"]
    ((minute, got),) = fired
    assert minute == 10
    assert got["alertname"] == alert and labels.items() <= got.items()

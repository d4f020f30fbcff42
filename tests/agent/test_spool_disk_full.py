"""A spool on a real full filesystem (a 2 MiB tmpfs filled to ENOSPC): nothing stops, drops are
counted, critical alerts are kept, and the rest goes out once the disk has room again."""

from __future__ import annotations

from pathlib import Path

from tests.agent.fakes import FakeClock, Receiver, ScriptedSampler, cpu, fill
from tocsin.agent.config import AgentConfig, PushConfig, SpoolConfig
from tocsin.agent.daemon import Agent
from tocsin.agent.deadletters import DeadLetters
from tocsin.agent.push import Receiver as Client
from tocsin.agent.push import WireAlert
from tocsin.agent.pusher import Pusher
from tocsin.agent.rules import Rule
from tocsin.agent.spool import Spool
from tocsin.agent.textformat import render

T0 = 1_700_000_000.0


def alert(name: str, severity: str = "warning") -> WireAlert:
    return WireAlert((("alertname", name), ("severity", severity)), (("summary", "s" * 50),), T0)


def test_a_full_disk_holds_alerts_in_memory_keeps_criticals_and_delivers_later(
    small_disk: Path, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answer = lambda request: (503, {})
    clock = FakeClock(T0)
    spool = Spool(small_disk / "spool", 1 << 26, memory_bytes=3000, clock=clock)
    pusher = Pusher(
        Client(receiver.url, None, 2.0),
        spool,
        ttl=240.0,
        clock=clock,
        dead_letters=DeadLetters(tmp_path / "dead-letters.jsonl"),
    )
    filler = fill(small_disk)
    pusher.enqueue([alert("Disk", "critical")])
    for index in range(30):
        pusher.enqueue([alert(f"Cpu{index}")])
        clock.advance(pusher.step())
    assert spool.memory_held > 0
    assert spool.dropped["no_space"] > 0
    assert spool.alerts_dropped["no_space"] == spool.dropped["no_space"]
    assert not list((small_disk / "spool").glob(".*.tmp"))

    filler.unlink()
    receiver.answer = lambda request: (200, {})
    for _ in range(10):
        clock.advance(pusher.step())
    delivered = [a["labels"]["alertname"] for a in receiver.alerts()]
    assert delivered[0] == "Disk"
    assert delivered[-1] == "Cpu29"
    assert len(delivered) == 31 - spool.alerts_dropped["no_space"]
    assert (spool.depth, spool.memory_held) == (0, 0)


def test_the_agent_keeps_cycling_on_a_full_spool_disk_and_catches_up(
    small_disk: Path, tmp_path: Path, receiver: Receiver
) -> None:
    rule = Rule("Busy", "tocsin_cpu_usage_ratio", ">", 0.9, 0.8, severity="critical")
    config = AgentConfig(
        source="test",
        state_dir=tmp_path / "state",
        spool=SpoolConfig(small_disk / "spool"),
        instance="web1",
        rules=(rule,),
        listen=None,
        push=PushConfig(receiver.url, None, resend=3600.0),
    )
    sampler = ScriptedSampler()
    clock = FakeClock(T0)
    agent = Agent(config, sampler_factory=lambda _: sampler, clock=clock, monotonic=clock)
    agent.start()
    assert agent.pusher is not None
    agent.pusher.stop()  # delivered by hand below, so the test decides when
    receiver.answer = lambda request: (503, {})
    filler = fill(small_disk)
    try:
        for value in (0.95, 0.5, 0.95, 0.5):
            clock.advance(10)
            sampler.next = cpu(value)
            agent.tick()
        page = render(agent.registry).decode()
        # Two firings settled by their resolutions: the two resolutions wait in memory.
        assert "tocsin_agent_spool_memory_entries 2.0" in page
        assert "tocsin_agent_alerts_collapsed_total 2.0" in page
        filler.unlink()
        receiver.answer = lambda request: (200, {})
        agent.pusher.step()
        sent = [(a["labels"]["alertname"], a["endsAt"] > a["startsAt"]) for a in receiver.alerts()]
        assert sent == [("Busy", True), ("Busy", True)]  # two episodes, each already resolved
    finally:
        agent.stop()

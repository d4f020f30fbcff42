"""The run loop: push on transitions, re-send, persist state, reload, notify systemd."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.fakes import FakeClock, Receiver, ScriptedSampler, alertnames, cpu
from tests.peers import require_binary
from tocsin.agent.config import AgentConfig, PushConfig, SamplerConfig, SpoolConfig
from tocsin.agent.daemon import Agent
from tocsin.agent.deadletters import DeadLetters
from tocsin.agent.errors import AddressInUse, ConfigError
from tocsin.agent.push import Receiver as Client
from tocsin.agent.push import rfc3339
from tocsin.agent.pusher import Backoff, Pusher
from tocsin.agent.rules import Rule
from tocsin.agent.spool import Spool
from tocsin.common.sdnotify import Notifier

CPU = Rule("HostCpuHigh", "tocsin_cpu_usage_ratio", ">", 0.9, 0.8, 60.0, "critical")


class ManualPusher(Pusher):
    """A pusher the test drives with step() instead of a thread."""

    def start(self) -> None:
        pass


def make_config(tmp_path: Path, receiver: Receiver | None, **changes: object) -> AgentConfig:
    values: dict[str, object] = {
        "source": "test",
        "state_dir": tmp_path / "state",
        "spool": SpoolConfig(tmp_path / "spool"),
        "instance": "web1",
        "rules": (CPU,),
        "listen": None,
        "labels": (("env", "test"),),
        "push": PushConfig(receiver.url, "tok", resend=60.0) if receiver else None,
    }
    values.update(changes)
    return AgentConfig(**values)  # type: ignore[arg-type]


class Rig:
    """An agent on a scripted sampler and hand-moved clocks, pushing to a real receiver."""

    def __init__(self, config: AgentConfig, pusher_class: type[Pusher] = ManualPusher) -> None:
        self.sampler = ScriptedSampler()
        self.clock = FakeClock()
        self.monotonic = FakeClock(0.0)

        def pusher(config: AgentConfig, spool: Spool) -> Pusher:
            assert config.push is not None
            client = Client(config.push.url, config.push.token, 2.0, name=config.push.label)
            return pusher_class(
                client,
                spool,
                ttl=240.0,
                backoff=Backoff(0.01, 0.05),
                clock=self.clock,
                dead_letters=DeadLetters(config.state_dir / "dead-letters.jsonl"),
            )

        self.agent = Agent(
            config,
            sampler_factory=lambda _: self.sampler,
            pusher_factory=pusher,
            clock=self.clock,
            monotonic=self.monotonic,
        )
        self.agent.start()

    def at(self, seconds: float, value: float) -> None:
        """Move both clocks `seconds` on, sample `value` and deliver what is due."""
        self.clock.advance(seconds)
        self.monotonic.advance(seconds)
        self.sampler.next = cpu(value)
        self.agent.tick()
        if isinstance(self.agent.pusher, ManualPusher):
            self.agent.pusher.step()


@pytest.fixture
def rig(tmp_path: Path, receiver: Receiver) -> Iterator[Rig]:
    rig = Rig(make_config(tmp_path, receiver))
    yield rig
    rig.agent.stop()


def test_firing_alert_is_pushed_with_agent_labels_and_a_future_end(
    rig: Rig, receiver: Receiver
) -> None:
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    (sent,) = receiver.alerts()
    assert sent["labels"] == {
        "alertname": "HostCpuHigh",
        "severity": "critical",
        "instance": "web1",
        "job": "tocsin-agent",
        "env": "test",
    }
    assert sent["endsAt"] > sent["startsAt"]
    assert "generatorURL" not in sent  # no listen, no external_url: nowhere to link to


def test_labels_may_name_the_job_alerts_carry(tmp_path: Path, receiver: Receiver) -> None:
    rig = Rig(make_config(tmp_path, receiver, labels=(("job", "node"),)))
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    rig.agent.stop()
    (sent,) = receiver.alerts()
    assert sent["labels"]["job"] == "node"


def test_alerts_link_to_the_agents_metrics_for_their_rule(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(make_config(tmp_path, receiver, external_url="https://web1.example.com:9101"))
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    rig.at(10, 0.5)
    rig.agent.stop()
    firing, resolved = receiver.alerts()
    link = "https://web1.example.com:9101/metrics?name%5B%5D=tocsin_cpu_usage_ratio"
    assert firing["generatorURL"] == resolved["generatorURL"] == link


def test_resolved_alert_is_sent_once_with_its_real_end(rig: Rig, receiver: Receiver) -> None:
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    rig.at(10, 0.5)
    rig.at(10, 0.5)
    firing, resolved = receiver.alerts()
    assert resolved["startsAt"] == firing["startsAt"]
    assert resolved["endsAt"] == "2023-11-14T22:14:30.000Z"


def test_firing_alerts_are_re_sent_every_resend_period(rig: Rig, receiver: Receiver) -> None:
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    for _ in range(6):
        rig.at(30, 0.95)
    assert len(receiver.alerts()) == 4


def test_restart_neither_re_fires_nor_forgets(tmp_path: Path, receiver: Receiver) -> None:
    config = make_config(tmp_path, receiver)
    first = Rig(config)
    first.at(0, 0.95)
    first.at(60, 0.95)
    first.agent.stop()
    second = Rig(config)
    second.clock.now = first.clock.now
    second.at(10, 0.95)
    second.at(10, 0.5)
    second.agent.stop()
    sent = receiver.alerts()
    assert [a["startsAt"] for a in sent] == [sent[0]["startsAt"]] * 3
    assert sent[-1]["endsAt"] == "2023-11-14T22:14:40.000Z"


def test_restart_keeps_a_pending_alert_counting(tmp_path: Path, receiver: Receiver) -> None:
    config = make_config(tmp_path, receiver)
    first = Rig(config)
    first.at(0, 0.95)
    first.agent.stop()
    second = Rig(config)
    second.clock.now = first.clock.now
    second.at(60, 0.95)
    second.agent.stop()
    assert alertnames(receiver.alerts()) == ["HostCpuHigh"]


def test_an_alert_over_before_the_receiver_returns_is_sent_once_as_resolved(
    tmp_path: Path,
) -> None:
    down = Receiver().start()
    port = down.port
    down.stop()
    config = make_config(tmp_path, down)
    first = Rig(config)
    first.at(0, 0.95)
    first.at(60, 0.95)
    first.at(10, 0.5)
    first.agent.stop()
    back = Receiver(port=port).start()
    try:
        second = Rig(config)
        second.at(1, 0.5)
        second.agent.stop()
        (resolved,) = back.alerts()
        assert resolved["endsAt"] == rfc3339(first.clock.now)
        assert resolved["startsAt"] < resolved["endsAt"]
    finally:
        back.stop()


def test_self_metrics_show_alert_states_and_spool(rig: Rig) -> None:
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    rig.agent.exposition.refresh()
    body = rig.agent.exposition.body(gzipped=False).decode()
    assert 'tocsin_alert_firing{alertname="HostCpuHigh",env="test",severity="critical"} 1.0' in body
    assert "tocsin_agent_spool_entries 0.0" in body
    assert "tocsin_agent_push_batches_total 1.0" in body


def test_sampling_does_not_wait_for_a_hung_receiver(tmp_path: Path) -> None:
    release = threading.Event()
    hung = Receiver(answer=lambda request: (release.wait(10), (200, {}))[1]).start()
    rig = Rig(make_config(tmp_path, hung), pusher_class=Pusher)
    try:
        rig.at(0, 0.95)
        rig.at(60, 0.95)
        rig.at(10, 0.5)
        assert rig.agent.spool is not None and rig.agent.spool.depth >= 1
    finally:
        release.set()
        rig.agent.stop()
        hung.stop()


def run_in_thread(agent: Agent, reload: object = None) -> threading.Thread:
    thread = threading.Thread(target=agent.run, kwargs={"reload": reload}, daemon=True)
    thread.start()
    return thread


def test_invalid_reload_keeps_the_running_config(tmp_path: Path) -> None:
    def bad_config() -> AgentConfig:
        raise ConfigError("agent.yml:3: 'interval' is 'x'")

    config = make_config(tmp_path, None, interval=0.05)
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.1)))
    thread = run_in_thread(agent, bad_config)
    agent.request_reload()
    agent.request_stop()
    thread.join(5)
    assert not thread.is_alive()
    assert agent.config is config


def test_valid_reload_switches_rules(tmp_path: Path) -> None:
    config = make_config(tmp_path, None, interval=0.05)
    new = make_config(tmp_path, None, interval=0.05, rules=())
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.1)))
    loaded = threading.Event()

    def load() -> AgentConfig:
        loaded.set()
        return new

    thread = run_in_thread(agent, load)
    agent.request_reload()
    assert loaded.wait(5)
    agent.request_stop()
    thread.join(5)
    assert agent.config is new


def test_start_creates_missing_state_and_spool_directories(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        None,
        state_dir=tmp_path / "a" / "state",
        spool=SpoolConfig(tmp_path / "b" / "spool"),
        push=PushConfig("http://127.0.0.1:1"),
    )
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.1)))
    agent.start()
    agent.stop()
    assert (tmp_path / "a" / "state").is_dir() and (tmp_path / "b" / "spool").is_dir()
    assert not list((tmp_path / "b" / "spool").glob(".write-probe-*"))


@pytest.mark.parametrize("key", ["state_dir", "spool.dir"])
def test_start_refuses_a_directory_that_cannot_be_created(tmp_path: Path, key: str) -> None:
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "sub"  # under a regular file: not even root can create it
    config = make_config(
        tmp_path,
        None,
        push=PushConfig("http://127.0.0.1:1"),
        **({"state_dir": bad} if key == "state_dir" else {"spool": SpoolConfig(bad)}),
    )
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.1)))
    with pytest.raises(ConfigError, match=f"test: '{key}' {bad} cannot be created or written"):
        agent.start()


def test_reload_to_an_unwritable_state_dir_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    config = make_config(tmp_path, None)
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.1)))
    agent.start()
    try:
        with pytest.raises(ConfigError, match="'state_dir'"):
            agent.reload(make_config(tmp_path, None, state_dir=tmp_path / "file" / "sub"))
        assert agent.config is config
    finally:
        agent.stop()


def scrape(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return bytes(response.read())


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_reload_to_a_taken_listen_address_changes_nothing(tmp_path: Path, taken_port: int) -> None:
    config = make_config(tmp_path, None, listen=("127.0.0.1", 0))
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.95)))
    agent.start()
    try:
        assert agent.server is not None
        port = agent.server.port
        new = make_config(tmp_path, None, listen=("127.0.0.1", taken_port), rules=())
        with pytest.raises(AddressInUse, match=f"'listen' 127.0.0.1:{taken_port} cannot be op"):
            agent.reload(new)
        assert agent.config is config
        assert [t.alert.labels[0] for t in agent.tick()] == [("alertname", "HostCpuHigh")]
        assert b"tocsin_cpu_usage_ratio 0.95" in scrape(port)
    finally:
        agent.stop()


def test_sighup_with_a_taken_listen_address_logs_one_line_and_keeps_serving(
    tmp_path: Path, taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, None, interval=0.05, listen=("127.0.0.1", 0))
    new = make_config(tmp_path, None, interval=0.05, listen=("127.0.0.1", taken_port))
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.1)))
    loaded = threading.Event()

    def load() -> AgentConfig:
        loaded.set()
        return new

    thread = run_in_thread(agent, load)
    agent.request_reload()
    assert loaded.wait(5)
    deadline = time.monotonic() + 5
    while not any(r.levelname == "ERROR" for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert agent.server is not None
    assert b"tocsin_cpu_usage_ratio" in scrape(agent.server.port)
    agent.request_stop()
    thread.join(5)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors[0].startswith("reload refused, keeping the running config: test: 'listen'")
    assert agent.config is config


def serving(tmp_path: Path) -> tuple[Agent, int]:
    """Start an agent serving /metrics on a free port, sampling CPU at 0.5; return it and the port."""
    agent = Agent(
        make_config(tmp_path, None, listen=("127.0.0.1", 0)),
        sampler_factory=lambda _: ScriptedSampler(cpu(0.5)),
    )
    agent.start()
    assert agent.server is not None
    return agent, agent.server.port


def test_reload_to_another_name_for_the_same_port_moves_the_listener(tmp_path: Path) -> None:
    agent, port = serving(tmp_path)
    try:
        new = make_config(tmp_path, None, listen=("localhost", port))
        agent.reload(new)
        assert agent.config is new
        agent.tick()
        assert b"tocsin_cpu_usage_ratio 0.5" in scrape(port)
    finally:
        agent.stop()


def test_reload_to_a_foreign_address_on_the_same_port_puts_the_old_listener_back(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, None, listen=("127.0.0.1", 0))
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.5)))
    agent.start()
    try:
        assert agent.server is not None
        port = agent.server.port
        with pytest.raises(ConfigError, match="cannot be opened"):
            agent.reload(make_config(tmp_path, None, listen=("192.0.2.1", port)))
        agent.tick()
        assert agent.config is config
        assert b"tocsin_cpu_usage_ratio 0.5" in scrape(port)
    finally:
        agent.stop()


def watched_agent(address: str, config: AgentConfig) -> Agent:
    """An agent whose systemd notifications go to `address`, with a 0.1 s watchdog."""
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
    return Agent(config, sampler_factory=lambda _: ScriptedSampler(), notifier=notifier)


def test_systemd_gets_ready_and_watchdog_pings(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(5)
        agent = watched_agent(address, make_config(tmp_path, None, interval=60.0))
        thread = run_in_thread(agent)
        messages = [listener.recv(4096).decode() for _ in range(3)]
        agent.request_stop()
        thread.join(5)
    assert messages[0].startswith("READY=1")
    assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]


def test_metrics_are_served_on_the_listen_address(tmp_path: Path) -> None:
    config = make_config(tmp_path, None, listen=("127.0.0.1", 0))
    agent = Agent(config, sampler_factory=lambda _: ScriptedSampler(cpu(0.5)))
    agent.start()
    try:
        agent.tick()
        assert agent.server is not None
        with urllib.request.urlopen(
            f"http://127.0.0.1:{agent.server.port}/metrics", timeout=5
        ) as r:
            assert b"tocsin_cpu_usage_ratio 0.5" in r.read()
    finally:
        agent.stop()


def test_sampler_config_reaches_the_sampler_factory(tmp_path: Path) -> None:
    seen: list[SamplerConfig] = []
    sampler_config = SamplerConfig(fs_timeout=0.5)
    agent = Agent(
        make_config(tmp_path, None, sampler=sampler_config),
        sampler_factory=lambda c: seen.append(c) or ScriptedSampler(),
    )
    agent.start()
    agent.stop()
    assert seen == [sampler_config]


def test_self_metrics_pass_promtool_check_metrics(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    down = make_config(tmp_path, None, push=PushConfig("http://127.0.0.1:9", None))
    rig = Rig(down)
    try:
        rig.at(0, 0.95)
        rig.at(60, 0.95)
        rig.agent.exposition.refresh()
        body = rig.agent.exposition.body(gzipped=False)
    finally:
        rig.agent.stop()
    assert b'tocsin_agent_push_failures_total{reason="connection"} 1.0' in body
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""tocsin-agent end to end: a real Alertmanager, a receiver that goes away, an agent restart.

The agent runs as its real command in a subprocess; rules on `tocsin_load1 >= 0` always fire,
and a SIGHUP with other rules resolves them, so each step is driven without faking a metric.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.fakes import Receiver
from tests.peers import require_binary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def always(name: str) -> str:
    return (
        f"  - {{name: {name}, metric: tocsin_load1, op: '>=', threshold: 0, severity: critical}}\n"
    )


class AgentProcess:
    """`tocsin-agent run` in a subprocess, its log lines collected on a thread."""

    def __init__(self, config: Path, program: Path | None = None) -> None:
        """Start this checkout's agent under this Python, or an installed `program`."""
        env = dict(os.environ)
        if program is None:
            env["PYTHONPATH"] = str(ROOT)
            command = [sys.executable, "-c", "from tocsin.agent.cli import main; main()"]
        else:
            command = [str(program)]
        self.process = subprocess.Popen(
            [*command, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: queue.Queue[str] = queue.Queue()
        # Every line logged, kept whether or not expect() consumed it.
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.seen.append(line)
            self.lines.put(line)

    def expect(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if needle in line:
                return line
        raise AssertionError(f"agent never logged {needle!r}")

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)
        self.expect("reloaded")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=20) == 0
        assert self.process.stderr is not None
        self.process.stderr.close()


@pytest.fixture
def agent_config(tmp_path: Path) -> Iterator[Any]:
    """Write an agent config pushing to `url` with the given rules; yield the writer."""
    path = tmp_path / "agent.yml"
    started: list[AgentProcess] = []

    def write(url: str, rules: str, listen: str = "null") -> Path:
        path.write_text(
            f"interval: 200ms\nlisten: {listen}\nlabels: {{env: e2e}}\n"
            f"state_dir: {tmp_path / 'state'}\n"
            f"push: {{url: '{url}', resend: 1h, timeout: 2s}}\n"
            f"rules:\n{rules or '  []'}\n".replace("rules:\n  []", "rules: []")
        )
        return path

    yield write, started
    for agent in started:
        if agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free port that accepts everything and records it."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    """A real Alertmanager on a free port, notifying `receiver` by webhook (resolved too)."""
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route: {receiver: hook, group_wait: 0s, group_interval: 1s, repeat_interval: 1h}\n"
        "receivers:\n"
        f"  - name: hook\n    webhook_configs: [{{url: '{receiver.url}/hook', send_resolved: true}}]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            wait_until(lambda: _get(f"{url}/-/ready") is not None, 20, "Alertmanager ready")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read()
    except OSError:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def test_alert_appears_in_alertmanager_with_agent_labels_then_resolves(
    alertmanager: str, receiver: Receiver, agent_config: Any
) -> None:
    write, started = agent_config
    port = free_port()
    listen = f"127.0.0.1:{port}\nexternal_url: http://127.0.0.1:{port}"
    config = write(alertmanager, always("TocsinE2E"), listen)
    agent = AgentProcess(config)
    started.append(agent)

    def listed() -> list[dict[str, Any]]:
        alerts = _get(f"{alertmanager}/api/v2/alerts") or []
        return [a for a in alerts if a["labels"].get("alertname") == "TocsinE2E"]

    (alert,) = wait_until(listed, 20, "the alert in Alertmanager")
    assert alert["labels"]["env"] == "e2e"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["instance"] == socket.gethostname()
    assert alert["labels"]["job"] == "tocsin-agent"
    assert alert["status"]["state"] == "active"
    # The source link shows the rule's metric on the agent's own /metrics, and nothing else.
    assert alert["generatorURL"].startswith(f"http://127.0.0.1:{port}/metrics?")
    shown = _get(alert["generatorURL"]).decode()
    assert "\ntocsin_load1 " in shown
    assert {line.split()[0].split("{")[0] for line in shown.splitlines() if line[0] != "#"} == {
        "tocsin_load1"
    }

    write(alertmanager, "", listen)
    agent.reload()
    wait_until(lambda: not listed(), 20, "the alert to leave Alertmanager's active list")

    def notified(status: str) -> bool:
        return any(r.body.get("status") == status for r in receiver.requests if r.path == "/hook")

    wait_until(lambda: notified("resolved"), 20, "Alertmanager's resolved notification")
    assert notified("firing")
    agent.stop()


def events(receiver: Receiver) -> list[str]:
    """Return what arrived as 'Name:firing' / 'Name:resolved', in arrival order."""
    now = time.time()
    out = []
    for alert in receiver.alerts():
        ends = time.mktime(time.strptime(alert["endsAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        out.append(f"{alert['labels']['alertname']}:{'resolved' if ends < now else 'firing'}")
    return out


def test_every_alert_arrives_in_order_across_an_outage_and_a_restart(agent_config: Any) -> None:
    """Alerts over before the receiver returns arrive once, resolved; the rest in order."""
    write, started = agent_config
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    first = AgentProcess(write(url, always("A")))
    started.append(first)
    first.expect("alert firing {'alertname': 'A'")
    write(url, always("B"))
    first.reload()
    first.expect("alert firing {'alertname': 'B'")
    first.stop()

    second = AgentProcess(write(url, always("C")))
    started.append(second)
    second.expect("alert firing {'alertname': 'C'")
    write(url, always("A") + always("C"))
    second.reload()
    second.expect("alert firing {'alertname': 'A'")

    back = Receiver(port=port).start()
    try:
        expected = ["A:resolved", "B:resolved", "C:firing", "A:firing"]
        wait_until(lambda: len(back.alerts()) >= len(expected), 30, "the spooled alerts")
        received = events(back)
        assert received[: len(expected)] == expected
        assert set(received[len(expected) :]) <= {"A:firing", "C:firing"}
    finally:
        second.stop()
        back.stop()

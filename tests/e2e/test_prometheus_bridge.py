"""Prometheus and Alertmanager in front of the bridge, all real programs on 127.0.0.1.

Prometheus scrapes a real agent and the bridge and evaluates a rule on the agent's own
`tocsin_alert_firing` metric. The agent's rule is one the test toggles: `tocsin_load1 >= 0`
always holds, and a SIGHUP onto `tocsin_load1 < 0` clears it, so nothing depends on the host's
real load. The alert then travels two ways, through Alertmanager's webhook (bearer token) and
straight from Prometheus to the bridge's /api/v2/alerts, and must make one incident, which
resolves when the rule stops firing. The configs are the repository's examples with local
addresses and one-second timings.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml

from tests.peers import require_binary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INGEST_TOKEN = "e2e-ingest-token"
OPERATOR_TOKEN = "e2e-operator-token"
ALERT = "TocsinE2EProbe"
WAIT = 25.0
T = TypeVar("T")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def free_port() -> int:
    """Return a port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll `check` until it returns something truthy, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except requests.RequestException:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def agent_rules(firing: bool) -> str:
    """An agent rule that holds on every host (load >= 0), or never does."""
    op = ">=" if firing else "<"
    return (
        "rules:\n"
        f"  - {{name: E2EProbe, metric: tocsin_load1, op: '{op}', threshold: 0,"
        " severity: critical}\n"
    )


@dataclass
class Stack:
    """The running programs and where they listen."""

    tmp: Path
    agent: subprocess.Popen[bytes]
    agent_config: Path
    agent_port: int
    bridge_url: str
    prometheus_url: str

    def operator(self, path: str) -> Any:
        """GET a bridge API path as an operator."""
        response = requests.get(
            f"{self.bridge_url}{path}",
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def probe_incidents(self) -> list[dict[str, Any]]:
        """Return every incident the probe alert opened."""
        page = self.operator("/api/v1/incidents?limit=1000")
        return [i for i in page["incidents"] if i["labels"].get("alertname") == ALERT]

    def received(self, route: str) -> float:
        """Read tocsin_bridge_alerts_received_total for one route from the bridge's /metrics."""
        text = requests.get(f"{self.bridge_url}/metrics", timeout=5).text
        pattern = rf'^tocsin_bridge_alerts_received_total\{{route="{route}"\}} (\S+)$'
        match = re.search(pattern, text, flags=re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def toggle_agent_rule(self, firing: bool) -> None:
        """Rewrite the agent's rule and make it reload."""
        self.agent_config.write_text(agent_config_text(self.tmp, self.agent_port, firing))
        self.agent.send_signal(signal.SIGHUP)


def agent_config_text(tmp: Path, port: int, firing: bool) -> str:
    return (
        f"interval: 500ms\nlisten: 127.0.0.1:{port}\nstate_dir: {tmp / 'agent-state'}\n"
        + agent_rules(firing)
    )


def start(argv: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a program with its output in a log file, so a full pipe never blocks it."""
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **kwargs)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate every program at once, then kill any still running after 10 seconds."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Ports:
    """Where each program listens, chosen before any starts so all start together."""

    bridge: int
    agent: int
    alertmanager: int
    prometheus: int


def python_command(module: str) -> list[str]:
    """Run a package's click entry point with this interpreter, from this checkout."""
    return [sys.executable, "-c", f"from {module} import main; main()"]


def start_bridge(tmp: Path, ports: Ports) -> subprocess.Popen[bytes]:
    """Run `tocsin-bridge serve`, which migrates its SQLite database first."""
    config = tmp / "bridge.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "listen": f"127.0.0.1:{ports.bridge}",
                "database_url": f"sqlite:///{tmp / 'bridge.db'}",
                "secret_key": "e2e-secret-key-e2e-secret-key-e2e",
                "tokens": [
                    {"name": "prometheus", "role": "ingest", "value": INGEST_TOKEN},
                    {"name": "e2e", "role": "operator", "value": OPERATOR_TOKEN},
                ],
            }
        )
    )
    command = [*python_command("tocsin.bridge.cli"), "serve", "--config", str(config)]
    return start(command, tmp / "bridge.log", env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_agent(tmp: Path, ports: Ports) -> subprocess.Popen[bytes]:
    """Run `tocsin-agent run` with the probe rule firing."""
    config = tmp / "agent.yml"
    config.write_text(agent_config_text(tmp, ports.agent, firing=True))
    command = [*python_command("tocsin.agent.cli"), "run", "--config", str(config)]
    return start(command, tmp / "agent.log", env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_alertmanager(tmp: Path, ports: Ports) -> subprocess.Popen[bytes]:
    """Run Alertmanager on examples/alertmanager.yml, pointed at the bridge with 1s timings."""
    binary = require_binary("prometheus-alertmanager", "/usr/bin/alertmanager")
    config = yaml.safe_load((EXAMPLES / "alertmanager.yml").read_text())
    # Only the bridge receiver: the example's mail route would reach for smtp.example.com.
    config["global"] = {"resolve_timeout": "5m"}
    config["route"].update(group_wait="1s", group_interval="1s")
    config["route"].pop("routes")
    config["receivers"] = [r for r in config["receivers"] if r["name"] == "tocsin"]
    (webhook,) = config["receivers"][0]["webhook_configs"]
    webhook["url"] = f"http://127.0.0.1:{ports.bridge}/api/v1/alertmanager"
    webhook["http_config"]["authorization"]["credentials_file"] = str(tmp / "ingest.token")
    path = tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return start(
        [
            binary,
            f"--config.file={path}",
            f"--storage.path={tmp / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{ports.alertmanager}",
            "--cluster.listen-address=",
        ],
        tmp / "alertmanager.log",
    )


def probe_rule_file(path: Path) -> None:
    """Write the Prometheus rule on the agent's own metric for its probe alert."""
    rule = {
        "alert": ALERT,
        "expr": 'tocsin_alert_firing{alertname="E2EProbe"} == 1',
        "for": "0s",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "the e2e probe fires"},
    }
    path.write_text(yaml.safe_dump({"groups": [{"name": "e2e", "rules": [rule]}]}))


def start_prometheus(tmp: Path, ports: Ports) -> subprocess.Popen[bytes]:
    """Run Prometheus on examples/prometheus.yml with local targets and 1s intervals."""
    binary = require_binary("prometheus")
    probe_rule_file(tmp / "e2e-rules.yml")
    bridge = f"127.0.0.1:{ports.bridge}"
    config = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(tmp / "e2e-rules.yml")]
    manager, direct = config["alerting"]["alertmanagers"]
    manager["static_configs"] = [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]
    direct["static_configs"] = [{"targets": [bridge]}]
    direct["authorization"]["credentials_file"] = str(tmp / "ingest.token")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["tocsin-agent"].update(scrape_interval="1s")
    jobs["tocsin-agent"]["static_configs"] = [{"targets": [f"127.0.0.1:{ports.agent}"]}]
    jobs["tocsin-bridge"]["static_configs"] = [{"targets": [bridge]}]
    config["scrape_configs"] = [jobs["tocsin-agent"], jobs["tocsin-bridge"]]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return start(
        [
            binary,
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}",
            # Re-send firing alerts every second (default 1m), so one lost send costs little.
            "--rules.alert.resend-delay=1s",
        ],
        tmp / "prometheus.log",
    )


def ready(url: str) -> bool:
    """Tell whether a program's readiness endpoint answers 200."""
    return requests.get(url, timeout=2).ok


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start bridge, agent, Alertmanager and Prometheus together; stop them all at the end."""
    require_binary("prometheus")
    require_binary("prometheus-alertmanager", "/usr/bin/alertmanager")
    tmp = tmp_path_factory.mktemp("prometheus-bridge")
    (tmp / "ingest.token").write_text(INGEST_TOKEN)
    ports = Ports(free_port(), free_port(), free_port(), free_port())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        local = "http://127.0.0.1"
        # The senders start once the bridge answers: a refused first send waits for a re-send.
        processes += [start_bridge(tmp, ports), start_agent(tmp, ports)]
        wait_for(lambda: ready(f"{local}:{ports.bridge}/readyz"), "the bridge /readyz")
        wait_for(lambda: ready(f"{local}:{ports.agent}/metrics"), "the agent /metrics")
        processes += [start_alertmanager(tmp, ports), start_prometheus(tmp, ports)]
        wait_for(lambda: ready(f"{local}:{ports.alertmanager}/-/ready"), "Alertmanager")
        wait_for(lambda: ready(f"{local}:{ports.prometheus}/-/ready"), "Prometheus")
        yield Stack(
            tmp=tmp,
            agent=processes[1],
            agent_config=tmp / "agent.yml",
            agent_port=ports.agent,
            bridge_url=f"{local}:{ports.bridge}",
            prometheus_url=f"{local}:{ports.prometheus}",
        )
    finally:
        stop_all(processes)


def test_prometheus_scrapes_the_agent_and_the_bridge(stack: Stack) -> None:
    def healthy_jobs() -> set[str] | None:
        targets = requests.get(f"{stack.prometheus_url}/api/v1/targets", timeout=5).json()
        active = targets["data"]["activeTargets"]
        jobs = {t["labels"]["job"] for t in active if t["health"] == "up"}
        return jobs if jobs == {"tocsin-agent", "tocsin-bridge"} else None

    assert wait_for(healthy_jobs, "both scrape targets up") == {"tocsin-agent", "tocsin-bridge"}


def test_alert_through_alertmanager_and_direct_makes_one_incident_that_resolves(
    stack: Stack,
) -> None:
    wait_for(
        lambda: stack.received("webhook") > 0 and stack.received("v2") > 0,
        "the alert through both Alertmanager's webhook and Prometheus' direct push",
    )
    (incident,) = wait_for(stack.probe_incidents, "the probe incident")
    assert (incident["status"], incident["priority"]) == ("triggered", "P1")

    stack.toggle_agent_rule(firing=False)

    def resolved() -> list[dict[str, Any]] | None:
        found = stack.probe_incidents()
        return found if found and all(i["status"] == "resolved" for i in found) else None

    (after,) = wait_for(resolved, "the incident to resolve")
    assert after["id"] == incident["id"]
    # Both routes delivered the same label set: one alert, received more than once.
    (alert,) = stack.operator(f"/api/v1/incidents/{incident['id']}")["alerts"]
    assert alert["labels"]["alertname"] == ALERT
    assert alert["receive_count"] >= 2

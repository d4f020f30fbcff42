"""Two real clustered Alertmanagers and a skewed sender in front of a real bridge (issue #13).

The sender omits startsAt, so each Alertmanager stamps its own receive time: peer B hears the
alert first, peer A half a second later. A notifies the bridge at once (B waits longer and then
finds A's notification in the cluster's log), so the incident knows A's later start. A is
killed; the sender's resolve reaches B alone, whose resolved notification carries B's earlier
start, and must resolve the incident. Meanwhile a sender whose clock is five minutes behind
pushes straight to the bridge, with and without telling its clock. The per-outcome counts of
the run are printed from the bridge's /metrics.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.bridge.helpers import INGEST, OPERATOR
from tests.bridge.server import BridgeProcess
from tests.e2e.test_prometheus_bridge import free_port, start, stop_all, wait_for
from tests.peers import require_binary

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SKEW = timedelta(minutes=-5)


def rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Peer:
    """One clustered Alertmanager that hands every alert to the bridge's webhook."""

    def __init__(self, tmp: Path, name: str, bridge_url: str, group_wait: str) -> None:
        self.tmp = tmp / name
        self.tmp.mkdir()
        self.port, self.cluster_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.tmp / "token").write_text(INGEST)
        receiver = {
            "url": f"{bridge_url}/api/v1/alertmanager",
            "send_resolved": True,
            "http_config": {
                "authorization": {"type": "Bearer", "credentials_file": str(self.tmp / "token")}
            },
        }
        config = {
            "route": {
                "receiver": "tocsin",
                "group_by": ["..."],
                "group_wait": group_wait,
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "tocsin", "webhook_configs": [receiver]}],
        }
        (self.tmp / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, binary: str, peer: Peer) -> subprocess.Popen[bytes]:
        cluster = f"127.0.0.1:{self.cluster_port}"
        self.process = start(
            [
                binary,
                f"--config.file={self.tmp / 'alertmanager.yml'}",
                f"--storage.path={self.tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--cluster.listen-address={cluster}",
                f"--cluster.advertise-address={cluster}",
                f"--cluster.peer=127.0.0.1:{peer.cluster_port}",
                "--cluster.peer-timeout=1s",
                "--cluster.pushpull-interval=1s",
                "--cluster.gossip-interval=100ms",
                "--cluster.settle-timeout=3s",
            ],
            self.tmp / "alertmanager.log",
        )
        return self.process

    def post(self, alerts: list[dict[str, Any]]) -> None:
        requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

    def peers(self) -> int:
        status = requests.get(f"{self.url}/api/v2/status", timeout=2).json()
        return len(status["cluster"].get("peers") or [])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[BridgeProcess, Peer, Peer]]:
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    bridge = BridgeProcess(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}")
    # A notifies at once; B waits longer, by when A's notification is in the cluster's log.
    a = Peer(tmp_path, "a", bridge.url, group_wait="1s")
    b = Peer(tmp_path, "b", bridge.url, group_wait="8s")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        bridge.start()
        processes += [a.start(binary, b), b.start(binary, a)]
        for peer in (a, b):
            wait_for(lambda p=peer: p.peers() == 2, f"the cluster from {peer.url}")  # type: ignore[misc]
        yield bridge, a, b
    finally:
        stop_all(processes)
        bridge.stop()


def operator(bridge: BridgeProcess, path: str) -> Any:
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    response = requests.get(f"{bridge.url}{path}", headers=headers, timeout=5)
    response.raise_for_status()
    return response.json()


def incident_of(bridge: BridgeProcess, name: str) -> dict[str, Any] | None:
    found = [
        i
        for i in operator(bridge, "/api/v1/incidents?limit=1000")["incidents"]
        if i["labels"].get("alertname") == name
    ]
    return operator(bridge, f"/api/v1/incidents/{found[0]['id']}") if found else None


def push(bridge: BridgeProcess, alerts: list[dict[str, Any]], clue: bool) -> dict[str, Any]:
    """POST v2 alerts straight to the bridge from the skewed sender."""
    headers = {"Authorization": f"Bearer {INGEST}"}
    if clue:
        headers["X-Tocsin-Sender-Time"] = rfc3339(datetime.now(UTC) + SKEW)
    response = requests.post(f"{bridge.url}/api/v2/alerts", json=alerts, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def outcome_counts(bridge: BridgeProcess) -> dict[tuple[str, str], float]:
    text = requests.get(f"{bridge.url}/metrics", timeout=5).text
    pattern = r'^tocsin_bridge_alerts_total\{outcome="(\w+)",route="(\w+)"\} (\S+)$'
    return {(m[2], m[1]): float(m[3]) for m in re.finditer(pattern, text, flags=re.MULTILINE)}


def skewed(name: str, ended: bool = False) -> dict[str, Any]:
    """An alert from a sender whose clock is 5 minutes behind: its firing endsAt is our past."""
    now = datetime.now(UTC) + SKEW
    starts = now - timedelta(minutes=1)
    ends = now if ended else now + timedelta(minutes=4)
    return {
        "labels": {"alertname": name, "instance": "skewed"},
        "startsAt": rfc3339(starts.replace(second=0, microsecond=0)),
        "endsAt": rfc3339(ends),
    }


def test_the_surviving_peer_resolves_and_a_skewed_sender_still_pages(
    cluster: tuple[BridgeProcess, Peer, Peer],
) -> None:
    bridge, a, b = cluster
    labels = {"alertname": "E2EFailover", "instance": "db1", "severity": "critical"}
    b.post([{"labels": labels}])  # no startsAt: each peer stamps its own
    wait_for(lambda: requests.get(f"{b.url}/api/v2/alerts", timeout=2).json(), "B to hold it")
    a.post([{"labels": labels}])
    opened = wait_for(lambda: incident_of(bridge, "E2EFailover"), "the incident from peer A")
    stamps = [
        requests.get(f"{peer.url}/api/v2/alerts", timeout=2).json()[0]["startsAt"]
        for peer in (a, b)
    ]
    assert stamps[1] < stamps[0], stamps  # B's own start is earlier than A's

    # The skewed sender, with its clock in a header and without one (as Prometheus sends).
    assert push(bridge, [skewed("E2ESkewHeader")], clue=True)["opened"] == 1
    assert push(bridge, [skewed("E2ESkewBlind")], clue=False)["opened"] == 1
    assert push(bridge, [skewed("E2ESkewHeader")], clue=True)["outcomes"]["refreshed"] == 1
    assert push(bridge, [skewed("E2ESkewHeader", ended=True)], clue=True)["resolved"] == 1
    stale = push(bridge, [skewed("E2ESkewHeader")], clue=True)
    assert stale["not_stored"] == [{"index": 0, "outcome": "stale"}]
    gone = push(bridge, [skewed("E2ENeverSeen", ended=True)], clue=True)
    assert gone["not_stored"] == [{"index": 0, "outcome": "unknown_resolve"}]

    assert a.process is not None
    a.process.kill()
    a.process.wait(timeout=10)
    ends = rfc3339(datetime.now(UTC))
    b.post([{"labels": labels, "endsAt": ends}])

    def resolved() -> dict[str, Any] | None:
        found = incident_of(bridge, "E2EFailover")
        return found if found and found["status"] == "resolved" else None

    closed = wait_for(resolved, "peer B's resolve to resolve the incident", timeout=40)
    assert closed["id"] == opened["id"]
    for name in ("E2ESkewBlind",):
        found = incident_of(bridge, name)
        assert found is not None and found["status"] == "triggered"
    counts = outcome_counts(bridge)
    print("\noutcome counts (route, outcome): value")
    for key, value in sorted(counts.items()):
        print(f"  {key}: {value:g}")
    assert counts[("webhook", "opened")] == 1
    assert counts[("webhook", "resolved")] == 1
    assert counts[("v2", "stale")] == 1
    assert "1 firing alert(s) not opened" in bridge.log_path.read_text()

"""`make run` and `make stop` (scripts/run-local.sh): a first run that explains itself.

Runs the script for real on free ports with its state in a temporary folder: it must print the
board URL, the operator token itself, where the ingest token is and a curl that fires a test
alert (which this test runs), then stop exactly what it started.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.peers import require_binary

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "run-local.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(state: Path, *args: str, **ports: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "RUN_STATE": str(state),
        "RUN_BIN": str(Path(sys.executable).parent),
        **{name: str(value) for name, value in ports.items()},
    }
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_explains_itself_fires_a_test_alert_and_stop_ends_it(tmp_path: Path) -> None:
    require_binary("curl", "/usr/bin/curl")
    bridge, agent = free_port(), free_port()
    started = run(tmp_path, BRIDGE_PORT=bridge, AGENT_PORT=agent)
    pids = [int(line.split()[0]) for line in (tmp_path / "run.pids").read_text().splitlines()]
    try:
        out = started.stdout
        assert started.returncode == 0, started.stdout + started.stderr
        operator = (tmp_path / "operator.token").read_text().strip()
        assert f"web board:       http://127.0.0.1:{bridge}/" in out
        assert f"operator token:  {operator}" in out
        assert f"ingest token:    in {tmp_path / 'ingest.token'}" in out
        assert f"bridge {bridge}, agent {agent}" in out
        curl = re.search(r"^ +(curl .*?/api/v2/alerts)$", out, re.M | re.S)
        assert curl, out
        fired = subprocess.run(
            ["bash", "-c", curl.group(1).replace("\\\n", " ")],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert '"opened":1' in fired.stdout, fired.stdout
        listed = requests.get(
            f"http://127.0.0.1:{bridge}/api/v1/incidents",
            headers={"Authorization": f"Bearer {operator}"},
            timeout=5,
        ).json()["incidents"]
        assert [(i["priority"], i["title"]) for i in listed] == [
            ("P1", f"A test alert from the quick start on {socket.gethostname()}")
        ]
        again = run(tmp_path, BRIDGE_PORT=bridge, AGENT_PORT=agent)
        assert "already running" in again.stdout
    finally:
        stopped = run(tmp_path, "stop")
    assert stopped.returncode == 0 and "Tocsin stopped." in stopped.stdout
    assert not any(alive(pid) for pid in pids)
    assert "not running" in run(tmp_path, "stop").stdout


def test_a_taken_port_says_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        answer = run(tmp_path, BRIDGE_PORT=port, AGENT_PORT=free_port())
    assert answer.returncode == 1
    assert "make run BRIDGE_PORT=8081" in answer.stdout
    assert not (tmp_path / "run.pids").exists()


def test_make_run_keeps_the_install_in_a_log() -> None:
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "> $(RUN_STATE)/install.log 2>&1" in recipe

"""A wrong password against a real Alertmanager with basic auth: loud, never silent.

Alertmanager 0.25 takes bcrypt-hashed users in `--web.config.file`; the hash is made here with
the system's libcrypt (bcrypt, `$2b$`). The agent runs as its real command, pushing with the
wrong password: every refused batch is counted by reason, the resolved transition is
dead-lettered with the receiver's answer, and the agent's own rule on refused credentials fires.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.test_agent_alertmanager import ROOT, AgentProcess, always, free_port, wait_until
from tests.peers import missing_peer, require_binary

pytestmark = pytest.mark.e2e
USER = "tocsin"
DEAD_LETTERED_401 = 'tocsin_agent_alerts_dead_lettered_total{reason="http_401"}'


def bcrypt(password: str) -> str:
    """Hash a password as htpasswd -B would, through libcrypt."""
    name = ctypes.util.find_library("crypt")
    if name is None:
        missing_peer("libcrypt (bcrypt hashes for Alertmanager's basic auth) not found")
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2b$", 10, os.urandom(16), 16)
    hashed = lib.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2b$"):
        missing_peer("this libcrypt cannot make bcrypt hashes")
    return str(hashed.decode())


@pytest.fixture
def guarded_alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager that admits only tocsin:right by HTTP basic auth."""
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  {USER}: '{bcrypt('right')}'\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        binary,
        f"--config.file={config}",
        f"--web.config.file={web}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as am:
        try:
            wait_until(lambda: _status(f"{url}/-/ready", "right") == 200, 20, "Alertmanager")
            yield url
        finally:
            am.terminate()
            am.wait(timeout=20)


def _status(url: str, password: str) -> int | None:
    try:
        return requests.get(url, auth=(USER, password), timeout=2).status_code
    except requests.RequestException:
        return None


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_wrong_password_is_counted_dead_lettered_and_alerted_on(
    guarded_alertmanager: str, tmp_path: Path
) -> None:
    assert _status(f"{guarded_alertmanager}/api/v2/alerts", "wrong") == 401
    assert _status(f"{guarded_alertmanager}/api/v2/alerts", "right") == 200
    metrics_port = free_port()
    wrong = guarded_alertmanager.replace("http://", f"http://{USER}:wrong@")
    config = tmp_path / "agent.yml"
    self_rule = (
        "  - {name: TocsinAgentCredentialsRefused, metric: tocsin_agent_receiver_auth_failed,"
        " op: '>', threshold: 0, severity: critical}\n"
    )

    def write(rules: str) -> None:
        config.write_text(
            f"interval: 200ms\nlisten: 127.0.0.1:{metrics_port}\n"
            f"state_dir: {tmp_path / 'state'}\n"
            f"push: {{url: '{wrong}', resend: 1h, timeout: 2s}}\n"
            f"rules:\n{rules}{self_rule}"
        )

    def scrape() -> str:
        try:
            return requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
        except requests.RequestException:
            return ""

    write(always("DiskGone"))
    agent = AgentProcess(config)
    try:
        agent.expect("alert firing {'alertname': 'DiskGone'")
        write("")
        agent.reload()
        agent.expect("alert resolved {'alertname': 'DiskGone'")

        def refused_both() -> bool:
            letters = _dead_letters(config)
            return {
                (d["alert"]["labels"]["alertname"], d["alert"]["endsAt"] is None) for d in letters
            } >= {
                ("DiskGone", True),
                ("DiskGone", False),
            }

        wait_until(refused_both, 30, "both DiskGone transitions in the dead-letter file")

        def counted(text: str) -> bool:
            # The exposition is rebuilt once per cycle, so it may trail the dead-letter file.
            return (
                'alertname="TocsinAgentCredentialsRefused"' in text
                and (_metric(text, DEAD_LETTERED_401) or 0) >= 2
            )

        text = wait_until(
            lambda: (t := scrape()) and counted(t) and t,
            30,
            "the agent's own credentials rule and both dead letters counted",
        )
        assert "password" not in agent.expect("dead-lettered").lower()
    finally:
        agent.stop()

    assert (_metric(text, 'tocsin_agent_push_failures_total{reason="http_401"}') or 0) >= 2
    assert _metric(text, "tocsin_agent_receiver_auth_failed") == 1.0
    letters = _dead_letters(config)
    assert {d["reason"] for d in letters} == {"http_401"}
    assert not any(d["withhold"] for d in letters)  # fixing the password sends them again
    assert "wrong" not in json.dumps(letters)
    # Nothing reached Alertmanager.
    listed = requests.get(f"{guarded_alertmanager}/api/v2/alerts", auth=(USER, "right"), timeout=5)
    assert listed.json() == []


def _dead_letters(config: Path) -> list[dict[str, Any]]:
    command = [sys.executable, "-c", "from tocsin.agent.cli import main; main()"]
    result = subprocess.run(
        [*command, "dead-letters", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]

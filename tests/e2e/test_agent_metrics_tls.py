"""A real Prometheus scrapes the agent's /metrics over mutual TLS with basic auth.

The agent runs as its real command with `web_config_file` in node_exporter's format (TLS with a
required client certificate, one bcrypt user). Prometheus scrapes it twice: as `tocsin-agent`
with the client certificate and the right password (up 1, the agent's series stored), and as
`wrong-password` with the wrong one (up 0).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.agent.certs import make_pki
from tests.e2e.test_agent_alertmanager import AgentProcess, free_port, wait_until
from tests.e2e.test_agent_auth import bcrypt
from tests.peers import require_binary

pytestmark = pytest.mark.e2e
PASSWORD = "scrape-pw-92d"


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    try:
        answer = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=2)
    except requests.RequestException:
        return []
    return list(answer.json()["data"]["result"]) if answer.ok else []


def up(prometheus: str, job: str) -> str | None:
    found = query(prometheus, f'up{{job="{job}"}}')
    return str(found[0]["value"][1]) if found else None


def test_prometheus_scrapes_the_agent_over_mutual_tls_with_basic_auth(tmp_path: Path) -> None:
    binary = require_binary("prometheus")
    pki = make_pki(tmp_path / "pki")
    (tmp_path / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
        f"basic_auth_users:\n  prometheus: '{bcrypt(PASSWORD)}'\n"
    )
    agent_port, prometheus_port = free_port(), free_port()
    config = tmp_path / "agent.yml"
    config.write_text(
        f"interval: 1s\nlisten: 127.0.0.1:{agent_port}\nweb_config_file: web.yml\n"
        f"state_dir: {tmp_path / 'state'}\n"
    )
    (tmp_path / "right").write_text(PASSWORD)
    (tmp_path / "wrong").write_text("not-" + PASSWORD)

    def job(name: str, password: str) -> dict[str, Any]:
        return {
            "job_name": name,
            "scheme": "https",
            "tls_config": {
                "ca_file": str(pki.ca),
                "cert_file": str(pki.client_cert),
                "key_file": str(pki.client_key),
            },
            "basic_auth": {"username": "prometheus", "password_file": str(tmp_path / password)},
            "static_configs": [{"targets": [f"127.0.0.1:{agent_port}"]}],
        }

    prometheus_config = tmp_path / "prometheus.yml"
    prometheus_config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [job("tocsin-agent", "right"), job("wrong-password", "wrong")],
            }
        )
    )
    agent = AgentProcess(config)
    prometheus = subprocess.Popen(
        [
            binary,
            f"--config.file={prometheus_config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{prometheus_port}"
    try:
        agent.expect(f"serving /metrics on https://127.0.0.1:{agent_port}/metrics")
        wait_until(lambda: up(url, "tocsin-agent") == "1", 60, "the agent scraped (up 1)")
        wait_until(lambda: up(url, "wrong-password") == "0", 60, "the wrong password refused")
        wait_until(
            lambda: query(url, 'tocsin_agent_build_info{job="tocsin-agent"}'),
            30,
            "the agent's own series stored",
        )
        assert not query(url, 'tocsin_agent_build_info{job="wrong-password"}')
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        agent.stop()

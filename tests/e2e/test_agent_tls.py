"""An Alertmanager HA pair behind TLS, client certificates and basic auth: both get every alert.

Two real Alertmanagers each demand a client certificate signed by the test CA
(`client_auth_type: RequireAndVerifyClientCert`) and a bcrypt basic-auth user. The agent runs
as its real command with `push` as a list: the pair, plus the first Alertmanager again under a
wrong CA and once more without a client certificate, whose handshake failures must be named
with their fix in the log. The password never appears in the log.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.agent.certs import Pki, make_pki
from tests.e2e.test_agent_alertmanager import AgentProcess, always, free_port, wait_until
from tests.e2e.test_agent_auth import USER, bcrypt
from tests.peers import require_binary

pytestmark = pytest.mark.e2e
PASSWORD = "pair-pw-7c1e"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def _get(url: str, pki: Pki) -> Any:
    try:
        response = requests.get(
            url,
            auth=(USER, PASSWORD),
            verify=str(pki.ca),
            cert=(str(pki.client_cert), str(pki.client_key)),
            timeout=2,
        )
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.fixture
def pair(tmp_path: Path, pki: Pki) -> Iterator[list[str]]:
    """Two Alertmanagers on TLS with client certificates and basic auth; yield their URLs."""
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
        f"basic_auth_users:\n  {USER}: '{bcrypt(PASSWORD)}'\n"
    )
    config = tmp_path / "alertmanager.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    urls, processes = [], []
    try:
        for index in range(2):
            port = free_port()
            command = [
                binary,
                f"--config.file={config}",
                f"--web.config.file={web}",
                f"--storage.path={tmp_path / f'am{index}'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ]
            processes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            urls.append(f"https://127.0.0.1:{port}")
        for url in urls:
            wait_until(lambda url=url: _get(f"{url}/api/v2/status", pki), 20, f"{url} ready")
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def test_both_of_an_ha_pair_get_the_alert_over_mutual_tls(
    pair: list[str], pki: Pki, tmp_path: Path
) -> None:
    password = tmp_path / "am.password"
    password.write_text(PASSWORD + "\n")
    client = f"ca_file: {pki.ca}, cert_file: {pki.client_cert}, key_file: {pki.client_key}"
    auth = f"username: {USER}, password_file: {password}"
    timing = "resend: 1h, timeout: 2s"
    config = tmp_path / "agent.yml"
    config.write_text(
        f"interval: 200ms\nlisten: null\nstate_dir: {tmp_path / 'state'}\npush:\n"
        f"  - {{name: am1, url: '{pair[0]}', {client}, {auth}, {timing}}}\n"
        f"  - {{name: am2, url: '{pair[1]}', {client}, {auth}, {timing}}}\n"
        f"  - {{name: wrong-ca, url: '{pair[0]}', ca_file: {pki.other_ca}, {auth}, {timing}}}\n"
        f"  - {{name: no-cert, url: '{pair[0]}', ca_file: {pki.ca}, {auth}, {timing}}}\n"
        f"rules:\n{always('TocsinTlsPair')}"
    )
    agent = AgentProcess(config)
    try:

        def listed(url: str) -> list[dict[str, Any]]:
            alerts = _get(f"{url}/api/v2/alerts", pki) or []
            return [a for a in alerts if a["labels"].get("alertname") == "TocsinTlsPair"]

        for url in pair:
            (alert,) = wait_until(lambda url=url: listed(url), 30, f"the alert in {url}")
            assert alert["labels"]["job"] == "tocsin-agent"
        agent.expect("TLS handshake failed: certificate verify failed")
        agent.expect("client certificate")
    finally:
        agent.stop()
    assert PASSWORD not in "".join(agent.seen)

"""/metrics behind TLS and basic auth, from a web config file in node_exporter's format."""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from tests.agent.certs import Pki, make_pki
from tests.e2e.test_agent_auth import bcrypt
from tocsin.agent.config import load_config
from tocsin.agent.errors import ConfigError
from tocsin.agent.exposition import Exposition, ServerHandle
from tocsin.agent.webconfig import WebConfig, load_web_config

PASSWORD = "scrape-pw-31f"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def hashed() -> str:
    return bcrypt(PASSWORD)


def web_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


def tls_block(pki: Pki, client_auth: str = "NoClientCert") -> str:
    return (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: {client_auth}\n  client_ca_file: {pki.ca}\n  min_version: TLS12\n"
    )


def serve(web: WebConfig) -> ServerHandle:
    exposition = Exposition(CollectorRegistry())
    exposition.refresh()
    return exposition.serve("127.0.0.1", 0, web=web)


@pytest.fixture
def guarded(tmp_path: Path, pki: Pki, hashed: str) -> Iterator[ServerHandle]:
    web = load_web_config(
        web_file(tmp_path, tls_block(pki) + f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    )
    handle = serve(web)
    yield handle
    handle.close()


def get(handle: ServerHandle, pki: Pki, **options: object) -> requests.Response:
    url = f"https://127.0.0.1:{handle.port}/metrics"
    return requests.get(url, verify=str(pki.ca), timeout=5, **options)  # type: ignore[arg-type]


def test_metrics_over_tls_need_the_right_password(guarded: ServerHandle, pki: Pki) -> None:
    assert get(guarded, pki, auth=("prometheus", PASSWORD)).status_code == 200
    refused = get(guarded, pki, auth=("prometheus", "wrong"))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="tocsin-agent"'
    assert get(guarded, pki).status_code == 401
    assert get(guarded, pki, auth=("nobody", PASSWORD)).status_code == 401
    garbled = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert get(guarded, pki, headers=garbled).status_code == 401


def test_a_client_that_never_handshakes_holds_no_one_up(guarded: ServerHandle, pki: Pki) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=5):
        assert get(guarded, pki, auth=("prometheus", PASSWORD)).status_code == 200


def test_plain_http_to_the_tls_port_gets_nothing(guarded: ServerHandle) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{guarded.port}/metrics", timeout=5)


def test_a_required_client_certificate_is_checked(tmp_path: Path, pki: Pki) -> None:
    handle = serve(
        load_web_config(web_file(tmp_path, tls_block(pki, "RequireAndVerifyClientCert")))
    )
    try:
        cert = (str(pki.client_cert), str(pki.client_key))
        assert get(handle, pki, cert=cert).status_code == 200
        with pytest.raises(requests.exceptions.RequestException):
            get(handle, pki)
    finally:
        handle.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cipher_suites: []\n", ":1: 'cipher_suites' is not supported by tocsin-agent"),
        ("tls_server_config: {cert_file: x.pem}\n", "'tls_server_config.key_file' is missing"),
        (
            "tls_server_config: {cert_file: x.pem, key_file: x.key}\n",
            "'tls_server_config.cert_file' and key_file cannot be loaded",
        ),
        ("basic_auth_users: {prometheus: plain-password}\n", "has 'prometheus' without a bcrypt"),
        ("basic_auth_users: []\n", "'basic_auth_users' is []; expected user: bcrypt hash"),
        ("tls_server_config: [\n", "web.yml:2: invalid YAML"),
    ],
)
def test_a_bad_web_config_is_refused_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_web_config(web_file(tmp_path, text))
    assert expected in str(caught.value)
    assert "plain-password" not in str(caught.value)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("client_auth_type: RequestClientCert", "tocsin-agent takes NoClientCert"),
        ("client_auth_type: RequireAndVerifyClientCert", None),
        ("min_version: TLS14", "'tls_server_config.min_version' is 'TLS14'"),
    ],
)
def test_tls_settings_are_checked(
    tmp_path: Path, pki: Pki, setting: str, expected: str | None
) -> None:
    text = f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
    path = web_file(tmp_path, text + f"  {setting}\n")
    if expected is None:
        with pytest.raises(ConfigError, match="'tls_server_config.client_ca_file' is missing"):
            load_web_config(path)
        return
    with pytest.raises(ConfigError, match=expected):
        load_web_config(path)


def test_the_agent_config_names_the_web_config_and_links_over_https(
    tmp_path: Path, pki: Pki
) -> None:
    web_file(tmp_path, tls_block(pki))
    path = tmp_path / "agent.yml"
    path.write_text("listen: 0.0.0.0:9101\nweb_config_file: web.yml\n")
    config = load_config(path, env={"HOME": "/h"}, hostname="web1")
    assert config.web is not None and isinstance(config.web.tls, ssl.SSLContext)
    assert config.generator_base == "https://web1:9101"
    assert config.web == load_web_config(tmp_path / "web.yml")


def test_a_reload_that_adds_basic_auth_guards_the_same_port(tmp_path: Path, hashed: str) -> None:
    from tests.agent.test_daemon import make_config, serving

    agent, port = serving(tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        assert requests.get(url, timeout=5).status_code == 200
        web = load_web_config(web_file(tmp_path, f"basic_auth_users:\n  p: '{hashed}'\n"))
        agent.reload(make_config(tmp_path, None, listen=("127.0.0.1", port), web=web))
        assert agent.server is not None and agent.server.port == port
        assert requests.get(url, timeout=5).status_code == 401
        assert requests.get(url, auth=("p", PASSWORD), timeout=5).status_code == 200
    finally:
        agent.stop()

"""Transport to the receiver: trust (ca_file, system store), client certificates, basic auth."""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.certs import Pki, make_pki
from tests.agent.fakes import Receiver
from tocsin.agent.errors import PushUnavailable
from tocsin.agent.push import Receiver as Client
from tocsin.agent.push import WireAlert
from tocsin.agent.tls import TlsConfig, system_trust, tls_failure

FIRING = WireAlert((("alertname", "A"),), (), 1_700_000_000.0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def server_context(pki: Pki, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
def https(pki: Pki) -> Iterator[Receiver]:
    server = Receiver(tls=server_context(pki)).start()
    yield server
    server.stop()


@pytest.fixture
def mutual(pki: Pki) -> Iterator[Receiver]:
    server = Receiver(tls=server_context(pki, client_ca=pki.ca)).start()
    yield server
    server.stop()


def push(url: str, **options: object) -> None:
    client = Client(url, None, 5.0, **options)  # type: ignore[arg-type]
    try:
        client.post_alerts([FIRING], now=1_700_000_060.0, ttl=240.0)
    finally:
        client.close()


def test_a_receiver_signed_by_the_ca_file_is_trusted(https: Receiver, pki: Pki) -> None:
    push(https.url, tls=TlsConfig(ca_file=pki.ca))
    assert len(https.alerts()) == 1


def test_the_system_trust_store_is_the_default(
    https: Receiver, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SSL_CERT_FILE steers the system store (as for curl); a bundled certifi would ignore it.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    assert system_trust() == str(pki.ca)
    push(https.url)
    assert len(https.alerts()) == 1


def test_requests_ca_bundle_never_overrides_the_ca_file(
    https: Receiver, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.other_ca))
    push(https.url, tls=TlsConfig(ca_file=pki.ca))
    assert len(https.alerts()) == 1


def test_a_client_certificate_is_presented_when_configured(mutual: Receiver, pki: Pki) -> None:
    push(mutual.url, tls=TlsConfig(pki.ca, pki.client_cert, pki.client_key))
    assert len(mutual.alerts()) == 1


@pytest.mark.parametrize(
    ("server", "trusted", "expected"),
    [
        ("https", False, "certificate verify failed: "),
        ("https", False, "(set push.ca_file to the CA that signed the receiver's certificate)"),
        # TLS 1.3 sends the receiver's "certificate required" after the client's Finished, so
        # the client may see it (a sure answer) or only a reset (a question): both name the fix.
        ("mutual", True, "client certificate"),
        ("mutual", True, "set push.cert_file and push.key_file)"),
    ],
)
def test_a_failed_handshake_is_named_with_the_fix(
    request: pytest.FixtureRequest, pki: Pki, server: str, trusted: bool, expected: str
) -> None:
    receiver: Receiver = request.getfixturevalue(server)
    with pytest.raises(PushUnavailable) as caught:
        push(receiver.url, tls=TlsConfig(ca_file=pki.ca if trusted else pki.other_ca))
    assert caught.value.reason == "tls"
    assert "TLS handshake failed: " in str(caught.value)
    assert expected in str(caught.value)
    assert receiver.alerts() == []


def test_plain_http_to_a_tls_port_says_so() -> None:
    text = (
        "HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded (Caused by "
        "SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)')))"
    )
    assert tls_failure(text) == (
        "TLS handshake failed: wrong version number "
        "(the receiver does not speak TLS on this port: use http://)"
    )


def test_basic_auth_is_sent_and_the_password_never_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        push(receiver.url, auth=("tocsin", "s3cret-pw"))
    (request,) = receiver.requests
    expected = base64.b64encode(b"tocsin:s3cret-pw").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert "s3cret-pw" not in caplog.text

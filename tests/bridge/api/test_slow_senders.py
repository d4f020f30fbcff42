"""A sender that trickles its request is cut off after limits.read_timeout, headers or body."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.bridge.helpers import INGEST
from tests.bridge.server import BridgeProcess

pytestmark = pytest.mark.slow


def _read_all(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Read until the server closes the connection; return what came and when it closed."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


def test_headers_and_bodies_that_never_finish_are_cut_off(tmp_path: Path, sqlite_url: str) -> None:
    bridge = BridgeProcess(tmp_path, sqlite_url, limits={"read_timeout": "1s"})
    bridge.start()
    try:
        silent = socket.create_connection(("127.0.0.1", bridge.port))
        headers = socket.create_connection(("127.0.0.1", bridge.port))
        headers.sendall(b"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\n")  # never ends
        body = socket.create_connection(("127.0.0.1", bridge.port))
        body.sendall(
            b"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + INGEST.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n["
        )
        outcomes = [_read_all(sock, 10) for sock in (silent, headers, body)]
        for sock in (silent, headers, body):
            sock.close()
    finally:
        bridge.stop()
    (nothing, silent_at), (cut, headers_at), (answer, body_at) = outcomes
    assert nothing == b"" and cut == b""
    assert silent_at < 5 and headers_at < 5 and body_at < 5
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"limits.read_timeout" in answer

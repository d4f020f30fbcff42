"""The bridge's systemd notifications reach a real datagram socket, gated by its health check."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import uvicorn

from tocsin.bridge.platform.sdnotify import Notifier, Watchdog, healthz_probe, notify_systemd


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """An abstract datagram socket standing in for systemd's NOTIFY_SOCKET."""
    name = f"tocsin-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    yield sock, "@" + name
    sock.close()


def received(sock: socket.socket, count: int) -> list[str]:
    """Read `count` datagrams, failing after the socket's timeout."""
    return [sock.recv(4096).decode() for _ in range(count)]


def test_ready_reaches_an_abstract_socket(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    assert Notifier({"NOTIFY_SOCKET": address}).ready()
    assert received(sock, 1)[0].splitlines()[0] == "READY=1"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert (notifier.enabled, notifier.ready()) == (False, False)


def test_a_vanished_socket_is_reported_not_raised() -> None:
    assert not Notifier({"NOTIFY_SOCKET": f"@tocsin-absent-{uuid.uuid4().hex}"}).watchdog()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_period_is_read_for_this_process_only(
    environ: dict[str, str], expected: float | None
) -> None:
    assert Notifier(environ, pid=4242).watchdog_seconds == expected


@dataclass
class Flags:
    started: bool = True
    exiting: bool = False
    healthy: bool = True
    probes: list[bool] = field(default_factory=list)

    def probe(self) -> bool:
        self.probes.append(self.healthy)
        return self.healthy


def run_watchdog(flags: Flags, address: str) -> Watchdog:
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "40000"})
    watchdog = Watchdog(notifier, lambda: flags.started, lambda: flags.exiting, flags.probe)
    watchdog.start()
    return watchdog


def test_watchdog_pings_after_ready_while_healthy(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    watchdog = run_watchdog(Flags(), address)
    messages = received(sock, 3)
    watchdog.stop()
    assert [m.splitlines()[0] for m in messages] == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]


def test_watchdog_stays_silent_while_unhealthy(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    flags = Flags(healthy=False)
    watchdog = run_watchdog(flags, address)
    first = received(sock, 1)
    for _ in range(200):
        if len(flags.probes) >= 3:
            break
        threading.Event().wait(0.01)
    watchdog.stop()
    assert [m.splitlines()[0] for m in first + received(sock, 1)] == ["READY=1", "STOPPING=1"]


def test_watchdog_says_stopping_when_the_server_exits(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    flags = Flags(healthy=False)
    watchdog = run_watchdog(flags, address)
    received(sock, 1)
    flags.exiting = True
    assert received(sock, 1) == ["STOPPING=1"]
    watchdog.stop()


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_probe_reads_the_bridges_own_healthz(status: int, healthy: bool) -> None:
    handler = type("Handler", (Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert healthz_probe("0.0.0.0", server.server_address[1], timeout=5)() is healthy
    finally:
        server.shutdown()
        server.server_close()


def test_probe_of_a_closed_port_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert healthz_probe("127.0.0.1", port, timeout=1)() is False


@dataclass
class FakeConfig:
    host: str = "127.0.0.1"
    port: int = 9


@dataclass
class FakeServer:
    started: bool = True
    should_exit: bool = False
    config: FakeConfig = field(default_factory=FakeConfig)


def test_notify_systemd_does_nothing_outside_systemd() -> None:
    assert notify_systemd(FakeServer(), environ={}) is None


def test_notify_systemd_announces_a_started_server(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    watchdog = notify_systemd(FakeServer(), environ={"NOTIFY_SOCKET": address})
    assert watchdog is not None
    assert received(sock, 1)[0].startswith("READY=1")
    watchdog.stop()


def test_a_real_uvicorn_server_is_announced_and_fed(listener: tuple[socket.socket, str]) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    sock, address = listener
    app = Starlette(routes=[Route("/healthz", lambda request: PlainTextResponse("ok"))])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    environ = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"}
    watchdog = notify_systemd(server, environ=environ)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        messages = [m.splitlines()[0] for m in received(sock, 2)]
    finally:
        server.should_exit = True
        thread.join(10)
    assert watchdog is not None
    assert messages == ["READY=1", "WATCHDOG=1"]
    assert received(sock, 1) == ["STOPPING=1"]

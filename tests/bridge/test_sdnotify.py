"""The bridge tells systemd it is ready, and feeds the watchdog while its own /healthz answers."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import uvicorn

from tests.conftest import NotifySocket
from tocsin.bridge.server.systemd import Watchdog, healthz_probe, notify_systemd
from tocsin.common.sdnotify import Notifier


def received(sock: socket.socket, count: int) -> list[str]:
    """Read `count` datagrams, failing after the socket's timeout."""
    return [sock.recv(4096).decode() for _ in range(count)]


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


def test_watchdog_pings_after_ready_while_healthy(notify_socket: NotifySocket) -> None:
    address = notify_socket.address
    watchdog = run_watchdog(Flags(), address)
    messages = notify_socket.received(3)
    watchdog.stop()
    assert [m.splitlines()[0] for m in messages] == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]


def test_watchdog_stays_silent_while_unhealthy(notify_socket: NotifySocket) -> None:
    address = notify_socket.address
    flags = Flags(healthy=False)
    watchdog = run_watchdog(flags, address)
    first = notify_socket.received(1)
    for _ in range(200):
        if len(flags.probes) >= 3:
            break
        threading.Event().wait(0.01)
    watchdog.stop()
    assert [m.splitlines()[0] for m in first + notify_socket.received(1)] == [
        "READY=1",
        "STOPPING=1",
    ]


def test_watchdog_says_stopping_when_the_server_exits(notify_socket: NotifySocket) -> None:
    address = notify_socket.address
    flags = Flags(healthy=False)
    watchdog = run_watchdog(flags, address)
    notify_socket.received(1)
    flags.exiting = True
    assert notify_socket.received(1) == ["STOPPING=1"]
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


def test_notify_systemd_announces_a_started_server(notify_socket: NotifySocket) -> None:
    address = notify_socket.address
    watchdog = notify_systemd(FakeServer(), environ={"NOTIFY_SOCKET": address})
    assert watchdog is not None
    assert notify_socket.received(1)[0].startswith("READY=1")
    watchdog.stop()


def test_a_real_uvicorn_server_is_announced_and_fed(notify_socket: NotifySocket) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    address = notify_socket.address
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
        messages = [m.splitlines()[0] for m in notify_socket.received(2)]
    finally:
        server.should_exit = True
        thread.join(10)
    assert watchdog is not None
    assert messages == ["READY=1", "WATCHDOG=1"]
    assert notify_socket.received(1) == ["STOPPING=1"]

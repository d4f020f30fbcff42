"""Bounded serving: idle connections time out, and 300 of them cost a bounded number of threads.

Real sockets against the real /metrics server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge

from tocsin.agent.exposition import Exposition, ServerHandle
from tocsin.agent.httpserve import MAX_CONNECTIONS


def serve(**options: float) -> ServerHandle:
    registry = CollectorRegistry()
    Gauge("tocsin_test_up", "Up.", registry=registry).set(1)
    exposition = Exposition(registry)
    exposition.refresh()
    return exposition.serve("127.0.0.1", 0, **options)  # type: ignore[arg-type]


def scrape(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def idle_sockets() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_300_idle_connections_hold_a_bounded_number_of_threads(
    idle_sockets: list[socket.socket],
) -> None:
    before = threading.active_count()
    handle = serve()
    try:
        for _ in range(300):
            idle_sockets.append(socket.create_connection(("127.0.0.1", handle.port), timeout=5))
        time.sleep(0.3)
        assert threading.active_count() <= before + 1 + MAX_CONNECTIONS
        assert scrape(handle.port) == 200
    finally:
        handle.close()


def test_a_silent_connection_is_closed_after_the_idle_timeout(
    idle_sockets: list[socket.socket],
) -> None:
    handle = serve(idle_timeout=0.2)
    try:
        silent = socket.create_connection(("127.0.0.1", handle.port), timeout=5)
        idle_sockets.append(silent)
        assert silent.recv(1) == b""
    finally:
        handle.close()


def test_a_kept_alive_scraper_is_served_until_it_goes_quiet(
    idle_sockets: list[socket.socket],
) -> None:
    handle = serve(max_connections=2, idle_timeout=5)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=5)
        for _ in range(3):
            connection.request("GET", "/metrics")
            assert connection.getresponse().read().startswith(b"# HELP tocsin_test_up")
        connection.close()
    finally:
        handle.close()


def test_idle_connections_yield_their_slot_to_a_new_scrape(
    idle_sockets: list[socket.socket],
) -> None:
    handle = serve(max_connections=2, idle_timeout=30)
    try:
        for _ in range(2):
            idle_sockets.append(socket.create_connection(("127.0.0.1", handle.port), timeout=5))
        assert wait_until(lambda: handle.idle_connections == 2)
        assert scrape(handle.port) == 200
        evicted, _, _ = select.select(idle_sockets, [], [], 5)
        assert len(evicted) == 1 and evicted[0].recv(1) == b""
    finally:
        handle.close()

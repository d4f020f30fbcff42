"""Fixtures shared by every test package: databases on SQLite and PostgreSQL, a systemd socket."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.pg import create_database, postgres_cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL without a database, shared by the whole session."""
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each engine the bridge supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tocsin.db'}"
    server: str = request.getfixturevalue("postgres_server")
    return create_database(server)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file, for tests that do not depend on the engine."""
    return f"sqlite:///{tmp_path / 'tocsin.db'}"


class NotifySocket(NamedTuple):
    """An abstract datagram socket standing in for systemd's NOTIFY_SOCKET, and its address."""

    sock: socket.socket
    address: str  # as systemd writes it: '@name'

    def received(self, count: int) -> list[str]:
        """Read `count` datagrams, failing after the socket's timeout."""
        return [self.sock.recv(4096).decode() for _ in range(count)]


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    """A systemd notify socket that reads what the code under test sends."""
    name = f"tocsin-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        yield NotifySocket(sock, "@" + name)

"""Fixtures of the bridge tests: a fake clock, a runtime on SQLite, and clients of its app.

A test module changes the start time by overriding `clock`, or the runtime by overriding
`runtime` (it may take the default one as its argument and adjust it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bridge.helpers import FakeClock, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app


@pytest.fixture
def clock() -> FakeClock:
    """The runtime's clock, at T0 until a test moves it."""
    return FakeClock()


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime on a migrated SQLite database, with the bundled policy and known tokens."""
    built = make_runtime(sqlite_url, clock)
    yield built
    built.store.dispose()


@pytest.fixture
def anonymous(runtime: Runtime) -> Iterator[TestClient]:
    """A client of the runtime's app, its workers not started, signed in to nothing."""
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """The API client: each request carries its own bearer token."""
    return anonymous

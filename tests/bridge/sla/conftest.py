"""A runtime on SQLite driven by a fake clock, for the SLA engine's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import START, make_runtime
from tocsin.bridge.runtime import Runtime


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    built = make_runtime(sqlite_url, clock)
    yield built
    built.store.dispose()

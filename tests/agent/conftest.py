"""Fixtures for agent tests: a recording HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent.fakes import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free port that accepts everything and records it."""
    server = Receiver().start()
    yield server
    server.stop()

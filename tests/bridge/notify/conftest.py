"""A migrated store and a policy whose channels point at local receivers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Connection

from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.queue import Row
from tocsin.bridge.policy.load import parse_policy
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store(sqlite_url)
    metadata.create_all(store.engine)  # the migration itself is tested in tests/bridge/migrations
    yield store
    store.dispose()


def policy_with(channels: str, people: str = "") -> Policy:
    """Return a minimal policy with the given `channels:` and `people:` YAML bodies."""
    text = (
        "priorities:\n"
        "  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}\n"
        "routes:\n  - {priority: P1}\n"
        f"channels:\n{channels}\n"
    )
    if people:
        text += f"people:\n{people}\n"
    return parse_policy(text, "<test>")


def rendered(conn: Connection, box: Outbox, rows: Sequence[Row]) -> list[Row]:
    """Return outbox rows with their pages rendered by `box`, as the worker renders them."""
    payloads = box.render_pages(conn, rows)
    return [dataclasses.replace(row, payload=payloads.get(row.id, row.payload)) for row in rows]

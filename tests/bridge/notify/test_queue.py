from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.bridge.notify.queue import Row, claim, enqueue_many, idempotency_key, outbox_row
from tocsin.bridge.store.db import Store


def test_a_short_key_stays_readable() -> None:
    assert idempotency_key(7, "ops-chat", "carol") == "tocsin-7-ops-chat-carol"


@pytest.mark.parametrize("recipient", ["张伟", "x" * 200, "two words"])
def test_a_long_or_non_ascii_key_is_hashed_to_a_safe_header_value(recipient: str) -> None:
    key = idempotency_key(7, "ops-chat", recipient)
    assert key.startswith("tocsin-7-") and key.isascii() and len(key) <= 100 and " " not in key
    assert key == idempotency_key(7, "ops-chat", recipient)


def test_a_row_carrying_its_rendered_page_keeps_every_other_field() -> None:
    # Every field set to a value of its own, so a field the copy missed would show.
    values = {
        field.name: f"value-{n}" if field.type in ("str", "str | None") else n + 1
        for n, field in enumerate(dataclasses.fields(Row))
    }
    values.update(maybe_sent=True, payload={"render": "incident.triggered"})
    row = Row(**values)  # type: ignore[arg-type]
    carried = row.carrying({"message": {"title": "disk full"}})
    assert carried == dataclasses.replace(row, payload={"message": {"title": "disk full"}})
    assert row.payload == {"render": "incident.triggered"}  # the original is left as it was
    assert isinstance(carried, Row)


def test_a_claimed_row_holds_every_field_as_its_constructor_would(store: Store) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    page = outbox_row(key="k-1", channel="hook", payload={"to": []}, now=now, recipient="ann")
    with store.begin() as conn:
        enqueue_many(conn, [page])
        (row,) = claim(conn, worker="w", now=now, lease=timedelta(seconds=60), limit=10)
    assert list(vars(row)) == [field.name for field in dataclasses.fields(Row)]
    assert row == Row(row.id, "hook", "ann", "k-1", {"to": []}, "pending", 0, now, None, now,
                      None, None, None)  # fmt: skip

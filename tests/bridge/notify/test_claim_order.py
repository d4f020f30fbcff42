"""Claims keep an incident's pages to a channel in one worker's hands: order across workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.bridge.notify.conftest import policy_with
from tests.bridge.notify.receiver import receiving
from tests.bridge.notify.sample import NOW
from tests.bridge.notify.test_worker import wait_for, worker
from tests.pg import create_database
from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.incidents.service import create_incident
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata, outbox

LEASE = timedelta(seconds=60)


@pytest.fixture
def shared(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    metadata.create_all(store.engine)
    yield store
    store.dispose()


def queue_pages(store: Store, incidents: int, pages: int, channel: str = "log") -> list[int]:
    """Open `incidents` incidents and queue `pages` rows to `channel` for each; return the ids."""
    with store.begin() as conn:
        opened = [
            create_incident(conn, [], now=NOW, title=f"i{n}", priority="P1")
            for n in range(incidents)
        ]
        rows = [
            queue.outbox_row(
                key=f"k{incident}-{n}", channel=channel, payload={}, now=NOW, incident_id=incident
            )  # fmt: skip
            for n in range(pages)
            for incident in opened
        ]
        queue.enqueue_many(conn, rows)
    return opened


def claim(store: Store, name: str, limit: int = 1, after: float = 0.0) -> list[tuple[int, int]]:
    """Claim for worker `name` at NOW + after seconds; return (incident, row id) of each row."""
    now = NOW + timedelta(seconds=after)
    with store.begin() as conn:
        rows = queue.claim(conn, worker=name, now=now, lease=LEASE, limit=limit)
    return [(row.incident_id or 0, row.id) for row in rows]


def test_a_later_row_waits_while_another_worker_holds_its_incidents_earlier_one(
    shared: Store,
) -> None:
    first, second = queue_pages(shared, incidents=2, pages=2)
    assert [i for i, _ in claim(shared, "a")] == [first]
    # b skips the first incident's next row (a holds its earlier one) and takes the second's.
    assert [i for i, _ in claim(shared, "b", limit=5)] == [second, second]
    # a itself goes on with its incident: its own claim holds nothing back from it.
    assert [i for i, _ in claim(shared, "a", limit=5)] == [first]


def test_another_channel_of_the_incident_is_not_held_back(shared: Store) -> None:
    (incident,) = queue_pages(shared, incidents=1, pages=1, channel="log")
    with shared.begin() as conn:
        row = queue.outbox_row(key="other", channel="chat", payload={}, now=NOW,
                               incident_id=incident)  # fmt: skip
        queue.enqueue_many(conn, [row])
    assert len(claim(shared, "a")) == 1
    assert len(claim(shared, "b")) == 1


def test_a_row_waiting_for_its_retry_holds_back_nothing(shared: Store) -> None:
    queue_pages(shared, incidents=1, pages=2)
    (row,) = _rows(shared, "a")
    with shared.begin() as conn:
        queue.mark_failed(conn, row, worker="a", error="503", retry_at=NOW + LEASE)
    assert len(claim(shared, "b")) == 1  # the later row leaves while the earlier one waits


def test_a_row_held_for_its_lapsed_owner_holds_back_its_incidents_later_rows(
    shared: Store,
) -> None:
    queue_pages(shared, incidents=1, pages=2)
    ((_, earlier),) = claim(shared, "a")
    lapsed = LEASE.total_seconds() + 1
    # a's lease ran out: its row is held for it one more lease, and the later row waits too.
    assert claim(shared, "b", limit=5, after=lapsed) == []
    assert claim(shared, "b", limit=5, after=lapsed + 1) == []
    # Once the hold ran out as well, both go, the earlier first.
    assert [i for _, i in claim(shared, "b", limit=5, after=2 * lapsed + 1)][0] == earlier


def _rows(store: Store, name: str) -> list[queue.Row]:
    with store.begin() as conn:
        return queue.claim(conn, worker=name, now=NOW, lease=LEASE, limit=1)


def test_two_postgresql_claims_at_once_never_split_an_incident(postgres_server: str) -> None:
    # Without the claims taking turns, the second would skip the first's locked row and take
    # the incident's next one, its earlier row's claim not yet committed.
    store = Store(create_database(postgres_server))
    metadata.create_all(store.engine)
    try:
        (first,) = queue_pages(store, incidents=1, pages=2)
        (second,) = queue_pages(store, incidents=1, pages=1)  # queued after the first's two
        got: list[list[tuple[int, int]]] = []
        with store.begin() as conn:
            assert [row.incident_id for row in queue.claim(
                conn, worker="a", now=NOW, lease=LEASE, limit=1)] == [first]  # fmt: skip
            racing = threading.Thread(target=lambda: got.append(claim(store, "b", limit=1)))
            racing.start()
            wait_for(lambda: not racing.is_alive() or _waiting_for_a_lock(store))
        racing.join(30)
        assert [i for i, _ in got[0]] == [second]
    finally:
        store.dispose()


def _waiting_for_a_lock(store: Store) -> bool:
    with store.connect() as conn:
        query = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return bool(conn.execute(query).scalar())


def test_two_workers_share_a_storm_and_each_channel_hears_each_incident_in_order(
    shared: Store,
) -> None:
    with receiving() as receiver:
        shared_out = threading.Event()  # both workers hold rows: each of them sends some

        def answer(_: Any) -> tuple[int, str]:
            if not shared_out.is_set():
                wait_for(lambda: _holders(shared) == {"a", "b"}, seconds=30)
                shared_out.set()
            time.sleep(0.005)
            return 200, "ok"

        receiver.answer = answer
        events = "[incident.triggered, incident.note_added]"
        policy = policy_with(f'  log: {{type: webhook, url: "{receiver.url()}", events: {events}}}')
        box = Outbox(policy, public_url=None, secret_key=None, similar=None)
        now = utcnow()
        with shared.begin() as conn:
            for n in range(8):
                incident = create_incident(conn, [box.hook], now=now, title=f"i{n}", priority="P1")
                for text_ in ("one", "two", "three", "four"):
                    record_event(conn, [box.hook], incident_id=incident, kind="incident.note_added",
                                 actor=None, now=now, data={"text": text_})  # fmt: skip
        both = [worker(shared, policy, batch=3, clock=utcnow, name=n) for n in ("a", "b")]
        for running in both:
            running.start()
        try:
            wait_for(lambda: len(receiver.received) >= 40, seconds=60)
        finally:
            for running in both:
                running.stop()
    heard: dict[int, list[str]] = {}
    for got in receiver.received:
        event = got.json["page"]["text"].split("Event: ")[1].split("\n")[0]
        heard.setdefault(got.json["incident"]["id"], []).append(event)
    in_order = ["triggered", *(f"note: {n}" for n in ("one", "two", "three", "four"))]
    assert len(heard) == 8 and all(events == in_order for events in heard.values())
    sent = [
        r.metrics.notifications.labels(channel_type="webhook", result="delivered") for r in both
    ]
    assert all(counter._value.get() > 0 for counter in sent)  # both took part


def _holders(store: Store) -> set[str]:
    with store.connect() as conn:
        query = select(outbox.c.claimed_by).where(outbox.c.claimed_by.is_not(None)).distinct()
        return {str(owner) for owner in conn.execute(query).scalars()}

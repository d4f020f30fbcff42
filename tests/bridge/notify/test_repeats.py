"""At least once, visibly: a page whose sending was never recorded goes again, same key, counted.

Also: rows queued in this process wake its worker at once, not at its next poll.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.bridge.notify.conftest import policy_with
from tests.bridge.notify.receiver import Received, receiving
from tests.bridge.notify.test_worker import open_incident, statuses, wait_for, webhook_policy
from tests.bridge.notify.test_worker import worker as make_worker
from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import outbox


def repeats(delivery: object, channel_type: str, idempotent: str) -> float:
    counter = delivery.metrics.repeats.labels(  # type: ignore[attr-defined]
        channel_type=channel_type, idempotent=idempotent
    )
    return float(counter._value.get())


def test_a_row_queued_here_wakes_the_worker_before_its_poll(store: Store) -> None:
    with receiving() as receiver:
        policy = webhook_policy(receiver.url())
        delivery = make_worker(store, policy, clock=utcnow, poll_interval=60.0)
        delivery.start()
        try:
            open_incident(store, policy, now=utcnow())
            wait_for(lambda: len(receiver.received) == 1, seconds=20)
            # The loop now waits out its minute-long poll: only the commit's wake can end it.
            open_incident(store, policy, now=utcnow())
            wait_for(lambda: len(receiver.received) == 2, seconds=20)
        finally:
            delivery.stop()
    assert [row[0] for row in statuses(store)] == ["delivered", "delivered"]


@pytest.mark.parametrize(
    ("channel", "channel_type", "idempotent"),
    [
        ('{type: webhook, url: "URL", events: [incident.triggered]}', "webhook", "true"),
        ('{type: slack, url: "URL", events: [incident.triggered]}', "slack", "false"),
    ],
)
def test_a_row_whose_owner_never_recorded_it_is_sent_again_with_its_key_and_counted(
    store: Store,
    caplog: pytest.LogCaptureFixture,
    channel: str,
    channel_type: str,
    idempotent: str,
) -> None:
    with receiving() as receiver:
        policy = policy_with(f"  audit: {channel.replace('URL', receiver.url())}")
        open_incident(store, policy, now=utcnow())
        with store.begin() as conn:
            # A replica sent it, lost its link for its lease, then for the hold kept for it.
            conn.execute(
                update(outbox).values(
                    claimed_by="?vanished", claimed_until=utcnow() - timedelta(seconds=1)
                )
            )
        delivery = make_worker(store, policy, clock=utcnow)
        with caplog.at_level(logging.WARNING, logger="tocsin.bridge.notify.worker"):
            assert delivery.run_once() == 1
    [got] = receiver.received
    key = got.headers["idempotency-key"]
    assert key.startswith("tocsin-")
    assert repeats(delivery, channel_type, idempotent) == 1
    assert f"sending it again with key {key}" in caplog.text
    assert statuses(store) == [("delivered", 1, None)]


def test_rows_a_stopping_worker_did_not_try_are_given_back_at_once(store: Store) -> None:
    with receiving() as receiver:
        policy = webhook_policy(receiver.url())
        incident = open_incident(store, policy, now=utcnow())
        box = Outbox(policy, public_url="https://oncall.example.com", secret_key=b"k", similar=None)
        with store.begin() as conn:  # a second page of the same incident: sent after the first
            record_event(conn, [box.hook], incident_id=incident, kind="incident.triggered",
                         actor=None, now=utcnow())  # fmt: skip
        delivery = make_worker(store, policy, clock=utcnow)
        answered = threading.Event()

        def stop_meanwhile(_: Received) -> tuple[int, str]:
            threading.Thread(target=delivery.stop).start()
            wait_for(lambda: delivery._stop.is_set())
            answered.set()
            return 200, "ok"

        receiver.answer = stop_meanwhile
        delivery.start()
        wait_for(answered.is_set, seconds=20)
        wait_for(lambda: delivery._thread is None, seconds=20)
    with store.connect() as conn:
        rows = conn.execute(
            select(outbox.c.status, outbox.c.claimed_by).order_by(outbox.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [("delivered", None), ("pending", None)]

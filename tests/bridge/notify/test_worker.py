from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.bridge.helpers import FakeClock
from tests.bridge.notify.conftest import policy_with
from tests.bridge.notify.receiver import Receiver, receiving
from tests.bridge.notify.sample import NOW
from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.incidents.service import create_incident
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.worker import DeliveryWorker, RetryPolicy
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy, Target
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata, outbox

FAST = RetryPolicy(max_attempts=3, base=0.05, cap=0.2, jitter=0.2)


def webhook_policy(url: str) -> Policy:
    return policy_with(f'  audit: {{type: webhook, url: "{url}", events: [incident.triggered]}}')


def open_incident(store: Store, policy: Policy, now: Any = NOW) -> int:
    box = Outbox(policy, public_url="https://oncall.example.com", secret_key=b"k", similar=None)
    with store.begin() as conn:
        return create_incident(conn, [box.hook], now=now, title="磁盘满", priority="P1")


def statuses(store: Store) -> list[tuple[str, int, str | None]]:
    with store.connect() as conn:
        query = select(outbox.c.status, outbox.c.attempts, outbox.c.last_error).order_by(
            outbox.c.id
        )
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def worker(store: Store, policy: Policy, **overrides: Any) -> DeliveryWorker:
    box = Outbox(policy, public_url="https://oncall.example.com", secret_key=b"k", similar=None)
    values: dict[str, Any] = {
        "retry": FAST,
        "poll_interval": 0.02,
        "clock": FakeClock(NOW),
        "render": box.render_pages,
    }
    values.update(overrides)
    return DeliveryWorker(store, policy, Metrics(), **values)


@pytest.mark.parametrize(
    ("attempts", "rand", "seconds"),
    [
        (1, 0.5, 5.0),
        (2, 0.5, 10.0),
        (3, 0.0, 16.0),
        (4, 1.0, 48.0),
        (20, 0.0, 48.0),  # capped at a minute, jitter below the cap
        (20, 1.0, 60.0),
        (5000, 0.5, 60.0),
    ],
)
def test_backoff_doubles_with_jitter_and_a_cap(attempts: int, rand: float, seconds: float) -> None:
    assert RetryPolicy().delay(attempts, rand) == pytest.approx(seconds)


def test_retrying_ends_by_age_not_by_count() -> None:
    retry = RetryPolicy()
    assert not retry.gives_up(attempts=1000, age=86399)
    assert retry.gives_up(attempts=2, age=86400)


def test_a_long_outage_is_retried_until_the_max_age_then_a_dead_letter(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (503, "down")
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        clock = FakeClock(NOW)
        delivery = worker(store, policy, clock=clock, retry=RetryPolicy(base=5, cap=60))
        for _ in range(30):  # 30 minutes of outage: far more attempts than the old count limit
            delivery.run_once()
            clock.advance(60)
        assert statuses(store)[0][0] == "pending"
        clock.advance(86400)
        with caplog.at_level(logging.ERROR, logger="tocsin.bridge.notify.worker"):
            delivery.run_once()
    assert statuses(store)[0][:2] == ("dead", 31)
    assert "is a dead letter after 31 attempts over 1 day, 0:30:00" in caplog.text
    dead = delivery.metrics.notifications.labels(channel_type="webhook", result="dead")
    assert dead._value.get() == 1


def test_everything_queued_during_an_outage_arrives_within_the_cap_after_recovery(
    store: Store,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = webhook_policy(f"http://127.0.0.1:{port}/hook")
    for _ in range(10):
        open_incident(store, policy, now=utcnow())
    retry = RetryPolicy(base=0.05, cap=0.4, jitter=0.2)
    delivery = worker(store, policy, retry=retry, clock=utcnow, poll_interval=0.02)
    delivery.start()
    try:
        wait_for(lambda: min(s[1] for s in statuses(store)) >= 4)  # the waits reached the cap
        receiver = Receiver(port=port).start()
        recovered = time.monotonic()
        try:
            wait_for(lambda: all(s[0] == "delivered" for s in statuses(store)))
            drained = time.monotonic() - recovered
        finally:
            receiver.stop()
    finally:
        delivery.stop()
    assert len(receiver.received) == 10
    # Within the cap (jitter included) plus polling and the deliveries themselves.
    assert drained < retry.cap + 1.0


def test_an_accepted_delivery_is_marked_delivered(store: Store) -> None:
    with receiving() as receiver:
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        delivery = worker(store, policy)
        assert delivery.run_once() == 1
    assert statuses(store) == [("delivered", 1, None)]
    assert receiver.received[0].json["event"] == "incident.triggered"
    sample = delivery.metrics.notifications.labels(channel_type="webhook", result="delivered")
    assert sample._value.get() == 1


def test_a_receiver_down_at_first_gets_the_page_exactly_once_when_it_is_back(store: Store) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = webhook_policy(f"http://127.0.0.1:{port}/hook")
    open_incident(store, policy, now=utcnow())
    patient = RetryPolicy(max_attempts=50, base=0.05, cap=0.1)
    delivery = worker(store, policy, retry=patient, clock=utcnow)
    delivery.start()
    try:
        wait_for(lambda: statuses(store)[0][1] >= 2)  # refused twice while down
        receiver = Receiver(port=port).start()
        try:
            wait_for(lambda: statuses(store)[0][0] == "delivered")
            time.sleep(0.2)  # a second delivery would arrive within this
        finally:
            receiver.stop()
    finally:
        delivery.stop()
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["idempotency-key"].startswith("tocsin-")


def test_a_receiver_answering_500_forever_ends_in_a_dead_letter_with_the_reason(
    store: Store,
) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (500, "database is on fire")
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        clock = FakeClock(NOW)
        delivery = worker(store, policy, clock=clock)
        for _ in range(FAST.max_attempts):
            delivery.run_once()
            clock.advance(1)
    assert statuses(store) == [
        ("dead", 3, f"audit: http://127.0.0.1:{receiver.port}/***: HTTP 500: database is on fire")
    ]
    assert len(receiver.received) == 3
    delivery.metrics.refresh()
    assert (delivery.metrics.dead._value.get(), delivery.metrics.pending._value.get()) == (1, 0)


def test_a_receiver_refusing_with_404_makes_a_dead_letter_at_once(store: Store) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (404, "no such hook")
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        clock = FakeClock(NOW)
        delivery = worker(store, policy, clock=clock)
        for _ in range(FAST.max_attempts):
            delivery.run_once()
            clock.advance(1)
    assert statuses(store) == [
        ("dead", 1, f"audit: http://127.0.0.1:{receiver.port}/***: HTTP 404: no such hook")
    ]
    assert len(receiver.received) == 1
    sample = delivery.metrics.notifications.labels(channel_type="webhook", result="dead")
    assert sample._value.get() == 1


@pytest.mark.parametrize("status", [429, 408, 503])
def test_a_receiver_asking_to_wait_is_retried(store: Store, status: int) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (status, "")
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        delivery = worker(store, policy)
        delivery.run_once()
    assert statuses(store)[0][:2] == ("pending", 1)


def test_a_failed_row_waits_for_its_backoff_before_the_next_attempt(store: Store) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (503, "")
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        clock = FakeClock(NOW)
        delivery = worker(store, policy, clock=clock, retry=RetryPolicy(base=60, jitter=0))
        assert delivery.run_once() == 1
        clock.advance(59)
        assert delivery.run_once() == 0
        clock.advance(1)
        assert delivery.run_once() == 1


def test_a_restarted_bridge_delivers_what_was_pending(sqlite_url: str) -> None:
    first = Store(sqlite_url)
    metadata.create_all(first.engine)
    with receiving() as receiver:
        policy = webhook_policy(receiver.url())
        open_incident(first, policy)
        # The first bridge claimed the row and died before delivering it.
        crashed = worker(first, policy, lease=timedelta(seconds=60))
        with first.begin() as conn:
            assert queue.claim(conn, worker=crashed.name, now=NOW, lease=crashed.lease, limit=5)
        first.dispose()
        second = Store(sqlite_url)
        clock = FakeClock(NOW + timedelta(seconds=61))
        restarted = worker(second, policy, clock=clock)
        try:
            # Held one more lease for the owner, which might yet record a delivery it made.
            assert restarted.run_once() == 0 and receiver.received == []
            clock.advance(61)
            assert restarted.run_once() == 1
            assert statuses(second)[0][0] == "delivered"
        finally:
            second.dispose()
    assert len(receiver.received) == 1


def test_failures_log_and_store_no_webhook_secret(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with receiving(json.dumps({"errcode": 93000, "errmsg": "invalid webhook url"})) as receiver:
        url = receiver.url("/cgi-bin/webhook/send") + "?key=WECOM-ROBOT-KEY-123"
        policy = policy_with(f'  room: {{type: wecom, url: "{url}", events: ["*"]}}')
        open_incident(store, policy)
        with caplog.at_level(logging.DEBUG):
            worker(store, policy).run_once()
    ((_, _, error),) = statuses(store)
    assert error is not None and "errcode 93000" in error
    assert "WECOM-ROBOT-KEY-123" not in error and "WECOM-ROBOT-KEY-123" not in caplog.text
    assert "errcode 93000" in caplog.text


def test_a_channel_removed_from_the_policy_fails_with_that_reason(store: Store) -> None:
    policy = webhook_policy("http://127.0.0.1:9/x")
    open_incident(store, policy)
    worker(store, policy_with("  other: {type: webhook, url: http://127.0.0.1:9/y}")).run_once()
    assert statuses(store)[0][2] == "channel 'audit' is no longer in the policy"


def test_two_workers_on_one_database_deliver_every_row_exactly_once(database_url: str) -> None:
    shared = Store(database_url)
    metadata.create_all(shared.engine)
    with receiving() as receiver:
        policy = webhook_policy(receiver.url())
        for _ in range(20):
            open_incident(shared, policy)
        replicas = [worker(shared, policy, batch=3) for _ in range(2)]

        def drain(replica: DeliveryWorker) -> None:
            for _ in range(50):
                if not replica.run_once():
                    return

        threads = [threading.Thread(target=drain, args=(r,)) for r in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    shared.dispose()
    keys = [r.headers["idempotency-key"] for r in receiver.received]
    assert len(keys) == 20 and len(set(keys)) == 20


def test_mail_to_a_person_without_smtp_configured_fails_saying_so(store: Store) -> None:
    policy = policy_with(
        "  audit: {type: webhook, url: http://127.0.0.1:9/x}", "  carol: {email: c@example.com}"
    )
    incident_id = open_incident(store, policy)
    box = Outbox(policy, public_url=None, secret_key=None, similar=None)
    with store.begin() as conn:
        event = record_event(conn, [], incident_id=incident_id, kind="incident.escalated",
                             actor=None, now=NOW, data={"level": 0})  # fmt: skip
        box.page(conn, incident_id=incident_id, event_id=event.id,
                 targets=[Target("person", "carol")], now=NOW)  # fmt: skip
    worker(store, policy).run_once()
    assert "needs the 'smtp:' section of the bridge config" in (statuses(store)[0][2] or "")


def test_a_retry_carries_the_same_idempotency_key(store: Store) -> None:
    with receiving() as receiver:
        answers = iter([(500, "later"), (200, "ok")])
        receiver.answer = lambda _: next(answers)
        policy = webhook_policy(receiver.url())
        open_incident(store, policy)
        clock = FakeClock(NOW)
        delivery = worker(store, policy, clock=clock)
        delivery.run_once()
        clock.advance(1)
        delivery.run_once()
    keys = {r.headers["idempotency-key"] for r in receiver.received}
    assert len(receiver.received) == 2 and len(keys) == 1
    assert statuses(store) == [("delivered", 2, None)]


def test_a_slow_receiver_holds_back_only_its_own_channel_and_its_incidents_go_side_by_side(
    store: Store,
) -> None:
    with receiving() as receiver:
        arrived: list[tuple[str, float]] = []

        def answer(item: Any) -> tuple[int, str]:
            arrived.append((item.path, time.monotonic()))
            if item.path == "/slow":
                time.sleep(0.5)
            return 200, "ok"

        receiver.answer = answer
        policy = policy_with(
            f'  slow: {{type: webhook, url: "{receiver.url("/slow")}", events: [incident.triggered]}}\n'
            f'  fast: {{type: webhook, url: "{receiver.url("/fast")}", events: [incident.triggered]}}'
        )
        opened = [open_incident(store, policy) for _ in range(3)]
        started = time.monotonic()
        assert worker(store, policy).run_once() == 6
    fast = [at - started for path, at in arrived if path == "/fast"]
    assert len(fast) == 3 and max(fast) < 0.5  # all in before the first slow answer
    slow = [r.json["incident"]["id"] for r in receiver.received if r.path == "/slow"]
    assert sorted(slow) == opened
    assert [s for s, _, _ in statuses(store)] == ["delivered"] * 6


def test_a_channel_hears_each_incidents_events_in_order(store: Store) -> None:
    with receiving() as receiver:
        receiver.answer = lambda item: (time.sleep(0.05), (200, "ok"))[1]
        events = "[incident.triggered, incident.note_added]"
        policy = policy_with(f'  log: {{type: webhook, url: "{receiver.url()}", events: {events}}}')
        box = Outbox(policy, public_url=None, secret_key=None, similar=None)
        for n in range(4):
            with store.begin() as conn:
                incident = create_incident(conn, [box.hook], now=NOW, title=f"i{n}", priority="P1")
                for text in ("one", "two", "three"):
                    record_event(conn, [box.hook], incident_id=incident, kind="incident.note_added",
                                 actor=None, now=NOW, data={"text": text})  # fmt: skip
        worker(store, policy).run_once()
    heard: dict[int, list[str]] = {}
    for got in receiver.received:
        event = got.json["page"]["text"].split("Event: ")[1].split("\n")[0]
        heard.setdefault(got.json["incident"]["id"], []).append(event)
    in_order = ["triggered", "note: one", "note: two", "note: three"]
    assert len(heard) == 4 and all(events == in_order for events in heard.values())


def test_the_running_loop_keeps_each_incidents_order_across_batches(store: Store) -> None:
    # Batches of two: the loop claims the next batch while this one is being delivered.
    with receiving() as receiver:
        receiver.answer = lambda item: (time.sleep(0.02), (200, "ok"))[1]
        events = "[incident.triggered, incident.note_added]"
        policy = policy_with(f'  log: {{type: webhook, url: "{receiver.url()}", events: {events}}}')
        box = Outbox(policy, public_url=None, secret_key=None, similar=None)
        with store.begin() as conn:
            incident = create_incident(conn, [box.hook], now=NOW, title="i", priority="P1")
            for text in ("one", "two", "three", "four", "five"):
                record_event(conn, [box.hook], incident_id=incident, kind="incident.note_added",
                             actor=None, now=NOW, data={"text": text})  # fmt: skip
        running = worker(store, policy, batch=2)
        running.start()
        try:
            wait_for(lambda: len(receiver.received) == 6)
        finally:
            running.stop()
    heard = [
        got.json["page"]["text"].split("Event: ")[1].split("\n")[0] for got in receiver.received
    ]
    assert heard == ["triggered", *(f"note: {n}" for n in ("one", "two", "three", "four", "five"))]


def test_a_stopped_loop_gives_back_the_batch_it_claimed_ahead(store: Store) -> None:
    with receiving() as receiver:
        first = threading.Event()
        receiver.answer = lambda item: (first.set(), time.sleep(0.3), (200, "ok"))[2]
        policy = webhook_policy(receiver.url())
        for _ in range(3):
            open_incident(store, policy)
        running = worker(store, policy, batch=1)
        running.start()
        assert first.wait(10)
        running.stop()
    with store.connect() as conn:
        claimed = conn.execute(select(outbox.c.id).where(outbox.c.claimed_by.is_not(None))).all()
    assert claimed == []  # what was not sent is due at once for a restart or another replica
    assert {s for s, _, _ in statuses(store)} <= {"delivered", "pending"}


class Partitioned:
    """The store as one replica sees it: cut off from the database between `cut` and `until`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self.until = 0.0

    def _check(self) -> None:
        if time.monotonic() < self.until:
            raise OperationalError("UPDATE outbox", {}, ConnectionError("network partition"))

    def begin(self) -> Any:
        self._check()
        return self.store.begin()

    def connect(self) -> Any:
        self._check()
        return self.store.connect()

    def listen(self, topic: str, callback: Callable[[], None]) -> None:
        self.store.listen(topic, callback)


def test_a_delivery_recorded_after_a_partition_longer_than_the_lease_is_not_sent_twice(
    store: Store,
) -> None:
    lease = timedelta(seconds=1)
    cut = Partitioned(store)
    with receiving() as receiver:
        policy = webhook_policy(receiver.url())
        open_incident(store, policy, now=utcnow())

        other = worker(store, policy, clock=utcnow, lease=lease, name="other")

        def accept_then_cut(_: Any) -> tuple[int, str]:
            cut.until = time.monotonic() + 1.5 * lease.total_seconds()
            other.start()  # another replica, still connected, looking for due rows
            return 200, "ok"

        receiver.answer = accept_then_cut
        first = worker(cut, policy, clock=utcnow, lease=lease)  # type: ignore[arg-type]
        try:
            assert first.run_once() == 1  # delivers, then retries its mark through the cut
            wait_for(lambda: statuses(store)[0][0] == "delivered", seconds=30)
            time.sleep(lease.total_seconds() * 1.5)  # the other replica would re-deliver by now
        finally:
            other.stop()
    assert len(receiver.received) == 1
    assert statuses(store) == [("delivered", 1, None)]

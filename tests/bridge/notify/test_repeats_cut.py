"""A real cut between one replica and PostgreSQL, longer than two outbox leases.

The replica behind a proxy delivers a page, then its link is blackholed before it can record
that: it keeps retrying the mark. The other replica holds the row one more lease for it, then
sends the page again, with the same Idempotency-Key (a receiver can fold it), counted and
logged; when the link heals, the first replica's late mark changes nothing.
"""

from __future__ import annotations

import gc
import logging
import warnings
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.bridge.notify.receiver import Received, receiving
from tests.bridge.notify.test_repeats import repeats
from tests.bridge.notify.test_worker import open_incident, statuses, wait_for, webhook_policy
from tests.bridge.notify.test_worker import worker as make_worker
from tests.bridge.proxy import Proxy
from tests.pg import create_database
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata

pytestmark = pytest.mark.slow
LEASE = timedelta(seconds=1)


def _cut_during_the_mark(postgres_server: str) -> tuple[list[str], float, float, list[Any]]:
    """Run both replicas through the cut; return the keys received, each one's repeat count
    and the outbox's rows at the end."""
    url = create_database(postgres_server)
    direct = Store(url)
    metadata.create_all(direct.engine)
    parsed = make_url(url)
    proxy = Proxy(parsed.host or "127.0.0.1", int(parsed.port or 5432))
    proxied = parsed.set(port=proxy.start()).render_as_string(hide_password=False)
    cut_off = Store(proxied, statement_timeout=1.0, busy_timeout=1.0)
    try:
        with receiving() as receiver:

            def accept_then_cut(_: Received) -> tuple[int, str]:
                if len(receiver.received) == 1:
                    proxy.blackhole()  # the page is accepted; its mark will not get through
                return 200, "ok"

            receiver.answer = accept_then_cut
            policy = webhook_policy(receiver.url())
            open_incident(direct, policy, now=utcnow())
            first = make_worker(cut_off, policy, clock=utcnow, lease=LEASE, name="first")
            other = make_worker(direct, policy, clock=utcnow, lease=LEASE, name="other")
            first.start()
            wait_for(lambda: len(receiver.received) == 1, seconds=20)
            other.start()
            wait_for(lambda: len(receiver.received) == 2, seconds=30)
            proxy.heal()
            wait_for(lambda: statuses(direct)[0][0] == "delivered", seconds=30)
            other.stop()
            first.stop()
        keys = [got.headers["idempotency-key"] for got in receiver.received]
        return (
            keys,
            repeats(first, "webhook", "true"),
            repeats(other, "webhook", "true"),
            (statuses(direct)),
        )
    finally:
        proxy.heal()
        cut_off.dispose()
        direct.dispose()
        proxy.stop()


def test_a_cut_longer_than_two_leases_repeats_the_page_once_with_its_key_and_counts_it(
    postgres_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.notify.worker"):
        keys, first_repeats, other_repeats, rows = _cut_during_the_mark(postgres_server)
    with warnings.catch_warnings():
        # The connection the watchdog cut is dropped unclosed (its socket is shut already):
        # collected here rather than as a warning in whichever test runs next.
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert len(keys) == 2 and keys[0] == keys[1]
    assert (first_repeats, other_repeats) == (0, 1)
    assert f"sending it again with key {keys[0]}" in caplog.text
    assert rows == [("delivered", 1, None)]

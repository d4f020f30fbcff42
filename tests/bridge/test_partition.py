"""Two bridge replicas on PostgreSQL, one behind a proxy that cuts its link: timers fire once, on time.

Short leases keep the run short: timer_lease 3 s (so PostgreSQL ends a session idle in a
transaction after 1 s), statement_timeout 2 s (the client cuts a silent link after 4 s). New
incidents keep arriving at the healthy replica, each with an SLA warning and breach timer
falling due 1 and 2 s later, while the other replica's link is blackholed for less than a
lease, blackholed for twice a lease, and reset.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.proxy import Proxy
from tests.bridge.server import BridgeProcess
from tests.pg import create_database
from tocsin.bridge.store.schema import events, timers

pytestmark = pytest.mark.slow
LEASE = 3.0
POLL = 1.0  # the scheduler's poll interval: one tick
LIMITS = {
    "timer_lease": f"{LEASE:g}s",
    "statement_timeout": "2s",
    "busy_timeout": "1s",
    "request_timeout": "1s",
    "queue_timeout": "500ms",
}
POLICY = """
priorities: {P1: {response: 2s, warn_at: 0.5}}
routes: [{priority: P1}]
"""


def _replica(tmp_path: Path, name: str, url: str) -> BridgeProcess:
    home = tmp_path / name
    home.mkdir()
    (home / "policy.yml").write_text(POLICY)
    return BridgeProcess(home, url, limits=LIMITS, policy=str(home / "policy.yml"))


def _post(url: str, name: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = requests.post(
            f"{url}/api/v2/alerts",
            json=[{"labels": {"alertname": "Partition", "instance": name}}],
            headers=bearer(INGEST),
            timeout=10,
        ).status_code
    except requests.RequestException:
        status = 0
    return status, time.monotonic() - started


def _ready(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = requests.get(f"{url}/readyz", timeout=10).status_code
    except requests.RequestException:
        status = 0
    return status, time.monotonic() - started


def _during(cut: Callable[[], None], proxy: Proxy, seconds: float, url: str) -> list[object]:
    """Cut the link for `seconds`, probing the cut replica's ingest and /readyz meanwhile."""
    cut()
    probes: list[object] = []
    started = time.monotonic()
    time.sleep(0.5)
    while time.monotonic() - started < seconds - 0.5:
        probes.append(("ingest", *_post(url, f"cut-{len(probes)}-{time.monotonic()}")))
        probes.append(("readyz", *_ready(url)))
        time.sleep(0.1)
    proxy.heal()
    return probes


def test_a_replica_cut_off_from_postgresql_answers_503_and_no_timer_fires_twice_or_late(
    tmp_path: Path, postgres_server: str
) -> None:
    url = create_database(postgres_server)
    parsed = make_url(url)
    proxy = Proxy(parsed.host or "127.0.0.1", int(parsed.port or 5432))
    proxied = parsed.set(port=proxy.start()).render_as_string(hide_password=False)
    healthy, cut = _replica(tmp_path, "healthy", url), _replica(tmp_path, "cut", proxied)
    stop = threading.Event()
    made: list[int] = []

    def keep_opening() -> None:
        while not stop.wait(0.2):
            made.append(_post(healthy.url, f"steady-{len(made)}")[0])

    sender = threading.Thread(target=keep_opening)
    try:
        healthy.start()
        cut.start()
        sender.start()
        time.sleep(2.0)
        short = _during(proxy.blackhole, proxy, LEASE / 2, cut.url)
        time.sleep(2.0)
        long = _during(proxy.blackhole, proxy, LEASE * 2, cut.url)
        reset = _during(proxy.reset, proxy, 2.0, cut.url)
        deadline = time.monotonic() + 15
        while _ready(cut.url)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        after = _post(cut.url, "after-heal")
        stop.set()
        sender.join(5)
        time.sleep(2.0 + LEASE + POLL)  # the last incidents' breaches fall due and fire
    finally:
        stop.set()
        cut.stop()
        healthy.stop()
        proxy.stop()
    for kind, status, took in [*short, *long, *reset]:  # type: ignore[misc]
        assert took < 5.0, (kind, status, took)
        assert status == 503, (kind, status, took)
    assert after[0] == 200
    assert made and set(made) == {200}
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            fired = Counter(
                (int(i), str(k))
                for i, k in conn.execute(
                    select(events.c.incident_id, events.c.kind).where(
                        events.c.kind.in_(["incident.sla_warning", "incident.sla_breached"])
                    )
                )
            )
            unfired = conn.execute(
                select(func.count()).where(timers.c.fired_at.is_(None), ~timers.c.cancelled)
            ).scalar_one()
            worst = conn.execute(select(func.max(timers.c.lag_seconds))).scalar_one()
    finally:
        engine.dispose()
    incidents_seen = {incident for incident, _ in fired}
    assert len(incidents_seen) >= len(made)
    assert set(fired.values()) == {1}
    assert all((i, "incident.sla_breached") in fired for i in incidents_seen)
    assert unfired == 0
    assert worst <= LEASE + POLL + 0.5, f"a timer fired {worst:.2f}s late"

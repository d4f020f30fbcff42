"""Two bridge replicas on PostgreSQL, one behind a proxy that cuts its link, and what came of it.

Shared by tests/bridge/test_partition.py (a 3 s lease, cuts of seconds) and
bench/bridge_partition.py (the default 30 s lease, issue #24's 20 s and 90 s cuts). New
incidents keep arriving at the healthy replica, each with an SLA warning and breach timer
falling due 1 and 2 s later, while the other replica's link is cut; meanwhile its ingest and
/readyz are probed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.proxy import Proxy
from tests.bridge.server import BridgeProcess
from tests.pg import create_database
from tocsin.bridge.store.schema import events, timers

POLL = 1.0  # the scheduler's poll interval: one tick
POLICY = """
priorities: {P1: {response: 2s, warn_at: 0.5}}
routes: [{priority: P1}]
"""


@dataclass(frozen=True)
class Cut:
    """One cut of the link: `blackhole` (held, nothing forwarded) or `reset`, for `seconds`."""

    kind: str
    seconds: float


@dataclass
class Outcome:
    """What the cut replica answered during each cut, and how the timers fared."""

    probes: dict[Cut, list[tuple[str, int, float]]] = field(default_factory=dict)
    after_heal: int = 0
    healed_in: float = 0.0
    made: list[int] = field(default_factory=list)
    fired: Counter[tuple[int, str]] = field(default_factory=Counter)
    unfired: int = 0
    worst_lag: float = 0.0

    def incidents(self) -> set[int]:
        return {incident for incident, _ in self.fired}


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


def _replica(tmp_path: Path, name: str, url: str, limits: dict[str, str]) -> BridgeProcess:
    home = tmp_path / name
    home.mkdir()
    (home / "policy.yml").write_text(POLICY)
    return BridgeProcess(home, url, limits=limits, policy=str(home / "policy.yml"))


def partition(
    tmp_path: Path, postgres_server: str, limits: dict[str, str], cuts: list[Cut], lease: float
) -> Outcome:
    """Run the replicas through `cuts` (2 s apart), wait for the last timers; return the outcome."""
    url = create_database(postgres_server)
    parsed = make_url(url)
    proxy = Proxy(parsed.host or "127.0.0.1", int(parsed.port or 5432))
    proxied = parsed.set(port=proxy.start()).render_as_string(hide_password=False)
    healthy = _replica(tmp_path, "healthy", url, limits)
    cut = _replica(tmp_path, "cut", proxied, limits)
    stop = threading.Event()
    outcome = Outcome()

    def keep_opening() -> None:
        while not stop.wait(0.2):
            outcome.made.append(_post(healthy.url, f"steady-{len(outcome.made)}")[0])

    sender = threading.Thread(target=keep_opening)
    try:
        healthy.start(timeout=60)
        cut.start(timeout=60)
        sender.start()
        for each in cuts:
            time.sleep(2.0)
            action = proxy.blackhole if each.kind == "blackhole" else proxy.reset
            outcome.probes[each] = _during(action, proxy, each.seconds, cut.url)  # type: ignore[assignment]
        started = time.monotonic()
        deadline = started + 15 + lease
        while _ready(cut.url)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        outcome.healed_in = time.monotonic() - started
        outcome.after_heal = _post(cut.url, "after-heal")[0]
        stop.set()
        sender.join(5)
        time.sleep(2.0 + lease + POLL)  # the last incidents' breaches fall due and fire
    finally:
        stop.set()
        cut.stop()
        healthy.stop()
        proxy.stop()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            outcome.fired = Counter(
                (int(i), str(k))
                for i, k in conn.execute(
                    select(events.c.incident_id, events.c.kind).where(
                        events.c.kind.in_(["incident.sla_warning", "incident.sla_breached"])
                    )
                )
            )
            outcome.unfired = conn.execute(
                select(func.count()).where(timers.c.fired_at.is_(None), ~timers.c.cancelled)
            ).scalar_one()
            outcome.worst_lag = float(
                conn.execute(select(func.max(timers.c.lag_seconds))).scalar_one() or 0.0
            )
    finally:
        engine.dispose()
    return outcome

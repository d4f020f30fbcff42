"""Rendering pages at send time: the bridge's CPU per page from a claimed row to the bytes posted.

A paging storm (bench/bridge_paging.py) queues each page unrendered; the delivery worker claims a
batch, reads the incidents, alerts and events behind it and renders each page (Outbox.render_pages),
then each sender shapes its body (the webhook: the contract's event JSON and the page's text) and
encodes it. This runs that path in one process, without HTTP: PAGES new P1 incidents each page
one webhook channel (bench/bridge_paging.py's policy), then the rows are claimed in the worker's
batches, rendered, shaped and encoded, ROUNDS times (the claims given back in between), on
SQLite and PostgreSQL. Figures: process CPU per page (all threads) for claiming, rendering and
shaping, best of the rounds (the collector tuned as `serve` tunes it), and a digest of every body posted (the same code gives the same
digest: a change that must not alter pages must not change it). No peer: Alertmanager posts
the alert JSON it received. Bounded: PAGES x ROUNDS pages per database, seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from bench.bridge_paging import POLICY
from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tests.pg import create_database, postgres_cluster
from tocsin.bridge.ingest.parse import parse_v2
from tocsin.bridge.ingest.service import ingest
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.webhook import WebhookSender
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.platform import jsontext, memory
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import outbox

FULL = os.environ.get("TOCSIN_BENCH_FULL") == "1"
PAGES = 4000 if FULL else 2000
ROUNDS = 5 if FULL else 3
BATCH = 200  # the delivery worker's claim size
SENT = 100  # alerts a request in the storm


def _runtime(url: str, tmp: Path) -> Runtime:
    """Return a bridge runtime on a fresh database with PAGES incidents, each one page queued."""
    policy = POLICY.format(port=9)  # never posted to
    config = dataclasses.replace(config_for(url, tmp), public_url="http://127.0.0.1:8080")
    runtime = make_runtime(url, FakeClock(), config=config, policy=policy, migrate=False)
    for start in range(0, PAGES, SENT):
        body = [
            {"labels": {"alertname": "BenchPage", "instance": f"host-{n}", "severity": "critical"},
             "annotations": {"summary": f"host-{n} is down"}}
            for n in range(start, start + SENT)
        ]  # fmt: skip
        ingest(runtime, parse_v2(body, runtime.clock(), 1000).alerts, "v2")
    memory.settle()  # the collector as `serve` tunes it
    return runtime


def _round(runtime: Runtime, worker: DeliveryWorker, digest: hashlib._Hash) -> dict[str, float]:
    """Claim, render and shape every queued page once; return CPU seconds by step."""
    assert worker.render is not None
    sender = worker.sender("hook")
    assert isinstance(sender, WebhookSender)
    spent = {"claim": 0.0, "render": 0.0, "shape": 0.0, "pages": 0.0}
    now = runtime.clock()
    while True:
        began = time.process_time()
        with runtime.store.begin() as conn:
            rows = queue.claim(conn, worker=worker.name, now=now, lease=worker.lease, limit=BATCH)
        claimed = time.process_time()
        if not rows:
            return spent
        with runtime.store.connect() as conn:
            payloads = worker.render(conn, rows)
        rendered = time.process_time()
        for row in rows:
            payload = payloads[row.id]
            notification = Notification(
                key=row.idempotency_key,
                body=payload["body"],
                message=Message.from_json(payload["message"]),
                to=tuple(payload.get("to") or ()),
                recipient=row.recipient,
            )
            digest.update(jsontext.dump_bytes(sender.payload(notification)))
        shaped = time.process_time()
        spent["claim"] += claimed - began
        spent["render"] += rendered - claimed
        spent["shape"] += shaped - rendered
        spent["pages"] += len(rows)


def run(url: str, tmp: Path) -> tuple[dict[str, float], str]:
    """Return the best round's CPU microseconds per page by step, and the bodies' digest."""
    runtime = _runtime(url, tmp)
    worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
    best: dict[str, float] = {}
    digests = set()
    try:
        for _ in range(ROUNDS):
            digest = hashlib.sha256()
            spent = _round(runtime, worker, digest)
            digests.add(digest.hexdigest()[:16])
            pages = max(spent.pop("pages"), 1)
            per_page = {step: seconds / pages * 1e6 for step, seconds in spent.items()}
            per_page["total"] = sum(per_page.values())
            if not best or per_page["total"] < best["total"]:
                best = per_page
            with runtime.store.begin() as conn:
                conn.execute(update(outbox).values(claimed_by=None, claimed_until=None))
    finally:
        runtime.store.dispose()
    return best, ",".join(sorted(digests))


def _print(name: str, figures: dict[str, float], digest: str) -> None:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"{name:<10} {PAGES:,} pages x {ROUNDS}: {figures['total']:6.0f} us CPU a page "
        f"(claim {figures['claim']:4.0f}, render {figures['render']:4.0f}, "
        f"webhook body {figures['shape']:4.0f}); bodies {digest}; load {load}",
        flush=True,
    )


def main() -> int:
    """Measure on SQLite, then PostgreSQL."""
    print("render at send time, CPU a page (best round; no peer: Alertmanager renders nothing)")
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-render-") as raw:
        tmp = Path(raw)
        figures, digest = run(f"sqlite:///{tmp / 'tocsin.db'}", tmp)
        _print("SQLite", figures, digest)
        with postgres_cluster(durable=True) as server:
            figures, digest = run(create_database(server), tmp)
            _print("PostgreSQL", figures, digest)
    return 0

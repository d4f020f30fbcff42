"""100,000 alerts spooled through a day-long outage, then replayed into a real bridge.

The agent's clock is shifted a day back while it spools: FINISHED alerts fire and resolve in
rounds of PER_ROUND while the receiver is down, STILL_FIRING more keep firing. Then the clock is real again,
the receiver is up, and the agent's own Pusher replays the spool (max_batch alerts per POST,
max_rate alerts/s). The bridge must end with exactly STILL_FIRING open incidents: a finished
alert pages nobody. The same backlog then replays into Debian's Alertmanager (the peer) through
the same Pusher; the peer column is its replay time, and the ratio ours/peer.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import requests

from bench.bridge_ingest import alertmanager, bridge
from tests.bridge.helpers import INGEST, OPERATOR
from tocsin.agent.deadletters import DeadLetters
from tocsin.agent.push import Receiver, WireAlert
from tocsin.agent.pusher import Pace, Pusher
from tocsin.agent.spool import Spool
from tocsin.bridge.cli.client import BridgeClient

FINISHED = 100_000
STILL_FIRING = 10
PER_ROUND = 1_000
DAY = 86_400.0
PACE = Pace(max_batch=500, max_rate=50_000.0)
# Bounded however slow the machine: a replay that has not finished by then is reported as such.
REPLAY_SECONDS = 300.0


class ShiftedClock:
    """The real clock, shifted by `offset` seconds (a day back while the outage lasts)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


def spool_outage(directory: Path, clock: ShiftedClock) -> tuple[Spool, float]:
    """Spool a day of alerts that fire and resolve, plus a few still firing; return the time."""
    spool = Spool(directory, 1 << 30, clock=clock)
    started = time.perf_counter()
    rounds = FINISHED // PER_ROUND
    step = DAY / (rounds + 1)
    base = time.time() - DAY
    for number in range(rounds):
        at = base + number * step
        batch = [
            WireAlert(
                (
                    ("alertname", f"Replay{number}x{index}"),
                    ("instance", "bench"),
                    ("severity", "critical" if index % 10 == 0 else "warning"),
                ),
                (("summary", "spooled during the outage"),),
                at,
            )
            for index in range(PER_ROUND)
        ]
        spool.append(batch)
        spool.append(
            [WireAlert(a.labels, a.annotations, a.starts_at, at + step / 2) for a in batch]
        )
    still = [
        WireAlert(
            (("alertname", f"Still{index}"), ("instance", "bench"), ("severity", "critical")),
            (),
            base + DAY - 60,
        )
        for index in range(STILL_FIRING)
    ]
    spool.append(still)
    return spool, time.perf_counter() - started


def replay(
    spool: Spool, url: str, token: str | None, tmp: Path, clock: ShiftedClock
) -> dict[str, float]:
    """Drain the spool into `url` with the agent's Pusher; return what it took."""
    pusher = Pusher(
        Receiver(url, token, timeout=60.0, clock=clock),
        spool,
        ttl=240.0,
        clock=clock,
        dead_letters=DeadLetters(tmp / "dead-letters.jsonl"),
        pace=PACE,
    )
    pending = spool.pending_alerts()
    started = time.perf_counter()
    deadline = time.monotonic() + REPLAY_SECONDS
    while spool.depth and time.monotonic() < deadline:
        wait = pusher.step()
        if wait > 0:
            time.sleep(min(wait, 1.0))
    seconds = time.perf_counter() - started
    return {
        "sent": pusher.alerts_sent_total,
        "pending": pending,
        "left": spool.pending_alerts(),
        "posts": pusher.sent_total,
        "seconds": seconds,
        "failures": sum(pusher.failures.values()),
    }


def main() -> int:
    """Spool, replay into a bridge on SQLite, then into Alertmanager; print both."""
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-replay-") as raw:
        tmp = Path(raw)
        clock = ShiftedClock(-DAY)
        spool, spooled_in = spool_outage(tmp / "spool", clock)
        size = spool.size_bytes
        print(
            f"spooled {FINISHED + STILL_FIRING:,} alerts over a simulated day in {spooled_in:.1f}s: "
            f"{spool.collapsed_total:,} firing transitions settled by their resolution, "
            f"{spool.pending_alerts():,} to send, {spool.depth} entries, {size / 2**20:.1f} MiB",
            flush=True,
        )
        shutil.copytree(tmp / "spool", tmp / "spool-peer")
        clock.offset = 0.0
        (tmp / "bridge").mkdir()
        with bridge(f"sqlite:///{tmp / 'bridge' / 'tocsin.db'}", tmp / "bridge") as process:
            ours = replay(spool, process.url, INGEST, tmp, clock)
            listed = BridgeClient(process.url, OPERATOR, timeout=60).list_incidents(limit=1000)
            open_ = [i for i in listed["incidents"] if i["status"] in ("triggered", "acknowledged")]
        peer: dict[str, float] | None = None
        with alertmanager(tmp) as found:
            if found is not None:
                peer_spool = Spool(tmp / "spool-peer", 1 << 30, clock=clock)
                peer = replay(peer_spool, found[0], None, tmp, clock)
                active = requests.get(f"{found[0]}/api/v2/alerts?silenced=false", timeout=30).json()
                peer["active"] = sum(a["status"]["state"] == "active" for a in active)
    print(f"{'':28} {'bridge (ours)':>14} {'alertmanager (peer)':>20} {'ours/peer':>10}")
    rows = [
        ("alerts sent", "sent", "{:,.0f}"),
        ("POSTs", "posts", "{:,.0f}"),
        ("replay seconds", "seconds", "{:.2f}"),
        ("alerts/s", None, "{:,.0f}"),
        ("left unsent", "left", "{:,.0f}"),
        ("push failures", "failures", "{:,.0f}"),
    ]
    for label, key, fmt in rows:
        mine = ours["sent"] / ours["seconds"] if key is None else ours[key]
        theirs = None
        if peer is not None:
            theirs = peer["sent"] / peer["seconds"] if key is None else peer[key]
        ratio = f"{mine / theirs:.2f}" if theirs else "-"
        shown = fmt.format(theirs) if theirs is not None else "n/a"
        print(f"{label:28} {fmt.format(mine):>14} {shown:>20} {ratio:>10}")
    peer_open = f"{peer['active']:,.0f} active alerts" if peer is not None else "n/a"
    print(f"{'open incidents (paging)':28} {len(open_):>14} {peer_open:>20}")
    ok = len(open_) == STILL_FIRING and ours["left"] == 0
    print(f"expected {STILL_FIRING} open incidents and nothing left: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1

"""The bridge under a crowd of slow and idle connections (issue #16), beside what it did before.

CONNECTIONS (10,000; TOCSIN_BENCH_CONNECTIONS to change) connections opened over 5 s and held
for up to 30 s, in the issue's proportions (40 % silent, 40 % a header line every 5 s, 20 % a
body byte every 5 s), while /healthz is probed 20 times a second and the server's open file
descriptors are counted. Twice: at the default limits (1,000 connections, the oldest idle one
making room) and with max_connections above the crowd, where only the 10 s deadlines close
them. Targets: /healthz p99 under 200 ms, descriptors under 80 % of the limit, every slow
connection closed within 15 s. Before (uvicorn's own limit_concurrency, no guard; issue #16
and measured at the start of this work) stands beside.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

from tests.bridge.server import BridgeProcess
from tests.bridge.slowloris import Siege, siege

CONNECTIONS = int(os.environ.get("TOCSIN_BENCH_CONNECTIONS", "10000"))
BEFORE = (
    "issue #16: 1,000 such connections all still open after 70 s; uvicorn limit_concurrency "
    "1000 (5,000 connections): 4,216 descriptors, 211 of 411 /healthz probes answered 503, "
    "49 slow bodies still open after 22 s"
)


def report(name: str, result: Siege) -> None:
    """Print one run's figures."""
    lifetimes = sorted(h.lifetime() or 0.0 for h in result.held if h.closed is not None)
    answers = Counter(h.answer[:12].decode("latin-1") or "(closed)" for h in result.held)
    print(
        f"{name:<28} {len(result.held)} connections: {len(result.still_open())} still open, "
        f"{sum(h.refused for h in result.held)} not accepted; closed after median "
        f"{lifetimes[len(lifetimes) // 2] if lifetimes else 0:.1f}s, longest "
        f"{result.longest():.1f}s (target 15 s)",
        flush=True,
    )
    print(
        f"{'':<28} /healthz: {len(result.healthz)} answered, {result.healthz_failed} not; p50 "
        f"{result.healthz_p(0.5) * 1000:.0f} ms, p99 {result.healthz_p(0.99) * 1000:.0f} ms "
        f"(quiet p99 {result.healthz_p(0.99, quiet=True) * 1000:.0f} ms; target 200 ms); "
        f"descriptors at most {max(result.fds, default=0)} of {result.fd_limit} "
        f"({max(result.fds, default=0) / result.fd_limit * 100:.0f} %, target 80 %)",
        flush=True,
    )
    print(f"{'':<28} answers: {dict(answers.most_common())}", flush=True)


def main() -> int:
    """Hold the crowd against a bridge at the default limits, then with room for all of it."""
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-conn-") as raw:
        tmp = Path(raw)
        runs = {
            "default limits": {},
            f"max_connections {CONNECTIONS + 1000}": {"max_connections": CONNECTIONS + 1000},
        }
        for n, (name, limits) in enumerate(runs.items()):
            home = tmp / str(n)
            home.mkdir()
            bridge = BridgeProcess(home, f"sqlite:///{home / 'tocsin.db'}", limits=limits)
            bridge.start(timeout=60)
            try:
                assert bridge.proc is not None
                result = siege(
                    bridge.url, bridge.proc.pid, connections=CONNECTIONS, hold_for=30.0, ramp=5.0
                )
            finally:
                bridge.stop()
            report(name, result)
    print(f"{'before':<28} {BEFORE}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

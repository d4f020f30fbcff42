"""A replica cut off from PostgreSQL for issue #24's 20 s and 90 s, at the default limits.

Two replicas share PostgreSQL (fsync on); one reaches it through a proxy that blackholes the
link for 20 s, then for 90 s, then resets it for 5 s, while new incidents keep arriving at the
other, each with an SLA warning and breach timer falling due 1 and 2 s later (the default timer
lease is 30 s). Targets: the cut replica answers ingest 503 and fails /readyz within 5 s, never
hangs, rejoins after healing; every timer fires exactly once and no later than the lease plus
one scheduler tick; no page twice. Before (issue #24): ingest and /readyz hung for the whole
20 s cut, and after a 63 s cut 18 timers fired up to 58 s late. About four minutes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.bridge.partition import POLL, Cut, partition
from tests.pg import durability, postgres_cluster
from tocsin.bridge.platform.config import Limits

BEFORE = (
    "ingest and /readyz hung through a 20 s cut; after a 63 s cut 18 timers fired up to 58 s late"
)
CUTS = [Cut("blackhole", 20.0), Cut("blackhole", 90.0), Cut("reset", 5.0)]


def main() -> int:
    """Run the cuts at the default limits; print each cut's answers and the timers' record."""
    lease = Limits().timer_lease
    with (
        tempfile.TemporaryDirectory(prefix="tocsin-bench-partition-") as raw,
        postgres_cluster(durable=True) as server,
    ):
        print(f"PostgreSQL: {', '.join(durability(server))}; timer lease {lease:g}s", flush=True)
        outcome = partition(Path(raw), server, {}, CUTS, lease)
    failed = False
    for cut, probes in outcome.probes.items():
        slowest = max((took for _, _, took in probes), default=0.0)
        statuses = sorted({status for _, status, _ in probes})
        failed |= slowest >= 5.0 or statuses != [503]
        print(
            f"{cut.kind} {cut.seconds:g}s: {len(probes)} probes (ingest, /readyz) answered "
            f"{statuses}, slowest {slowest:.2f}s (target 503 within 5 s)",
            flush=True,
        )
    twice = sum(1 for count in outcome.fired.values() if count > 1)
    late = outcome.worst_lag > lease + POLL + 0.5
    failed |= bool(twice or late or outcome.unfired or outcome.after_heal != 200)
    print(
        f"after healing: ready again in {outcome.healed_in:.1f}s, ingest {outcome.after_heal}; "
        f"{len(outcome.made)} incidents opened at the healthy replica "
        f"({sorted(set(outcome.made))}); timers fired {sum(outcome.fired.values())}, twice "
        f"{twice}, never {outcome.unfired}; latest {outcome.worst_lag:.1f}s after due "
        f"(target {lease + POLL:g}s: lease plus one tick)",
        flush=True,
    )
    print(f"before (#24): {BEFORE}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

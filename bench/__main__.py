"""Run the benchmarks: `python -m bench` runs them all, `python -m bench agent` runs one."""

from __future__ import annotations

import importlib
import sys

# Modules under bench/ that define `main() -> int`; add new benchmarks here, in running order.
BENCHMARKS = [
    "agent",
    "agent_large_host",
    "bridge_timers",
    "bridge_ingest",
    "bridge_intake",
    "agent_replay",
    "bridge_paging",
    "webhook_post",
    "bridge_render",
    "outbox_claim",
    "bridge_load",
    "bridge_sustained",
    "bridge_fleet",
    "bridge_partition",
    "bridge_connections",
    "bridge_history",
]


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) one after the other; fail if any failed."""
    names = argv or BENCHMARKS
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    status = 0
    for name in names:
        print(f"== bench {name} ==", flush=True)
        status |= importlib.import_module(f"bench.{name}").main()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

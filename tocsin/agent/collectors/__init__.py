"""One collector per concept (CPU, memory, disk, filesystem, load, network, clock), and HELP texts."""

from __future__ import annotations

from tocsin.agent.collectors import base, cpu, disk, filesystem, load, memory, network, timex

HELP: dict[str, str] = {
    **base.HELP,
    **cpu.HELP,
    **memory.HELP,
    **disk.HELP,
    **filesystem.HELP,
    **load.HELP,
    **network.HELP,
    **timex.HELP,
}

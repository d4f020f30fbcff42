"""One collector per concept (CPU, memory, disk, filesystem, load, network, clock, kernel
counters, md arrays, systemd units, textfiles), and HELP texts."""

from __future__ import annotations

from tocsin.agent.collectors import (
    base,
    cpu,
    disk,
    filesystem,
    kernel,
    load,
    mdadm,
    memory,
    network,
    systemd,
    textfile,
    timex,
)

HELP: dict[str, str] = {
    **base.HELP,
    **cpu.HELP,
    **memory.HELP,
    **disk.HELP,
    **filesystem.HELP,
    **load.HELP,
    **network.HELP,
    **timex.HELP,
    **kernel.HELP,
    **textfile.HELP,
    **mdadm.HELP,
    **systemd.HELP,
}

"""Software RAID (md) arrays from /proc/mdstat, under node_exporter's mdadm names.

For each array: its member disks by state (active, failed, spare), how many it needs, and how
many of those are missing, which is what the degraded rule reads. A host without md (no
/proc/mdstat, or no arrays) has no series, as with node_exporter.

    md1 : active raid1 sdb2[1](F) sda2[0]
          1046528 blocks super 1.2 [2/1] [U_]
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tocsin.agent.collectors.base import Reading
from tocsin.agent.sample import Series

DISKS = "tocsin_md_disks"
REQUIRED = "tocsin_md_disks_required"
MISSING = "tocsin_md_disks_missing"
HELP = {
    DISKS: "Member disks of the md array by state: active, failed, spare (node_md_disks).",
    REQUIRED: "Disks the md array needs to be complete (node_md_disks_required).",
    MISSING: "Disks the md array lacks (required minus active): over 0 means degraded.",
}
_ARRAY = re.compile(r"^(md\w*) : ")
_MEMBER = re.compile(r"\S+\[\d+\](\([A-Z]\))?")
_STATUS = re.compile(r"\[(\d+)/(\d+)\]")


def parse_mdstat(text: str) -> list[tuple[str, int, int, int, int]]:
    """Return (device, required, active, failed, spare) for each array of /proc/mdstat."""
    arrays = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = _ARRAY.match(line)
        if found is None:
            continue
        device = found.group(1)
        # Members look like sdb2[1], sdb2[1](F) failed, sdc[2](S) spare.
        members = _MEMBER.findall(line)
        failed = members.count("(F)")
        spare = members.count("(S)")
        status = _STATUS.search(lines[index + 1]) if index + 1 < len(lines) else None
        if status is not None:
            required, active = int(status.group(1)), int(status.group(2))
        else:
            # raid0, linear and inactive arrays print no [n/m]: every non-spare member counts.
            required = len(members) - spare
            active = len(members) - spare - failed
        arrays.append((device, required, active, failed, spare))
    return arrays


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        return None


class MdadmCollector:
    """Read /proc/mdstat each pass; a host without md arrays costs one failed open."""

    def __init__(self, proc_root: str = "/proc", read: Callable[[str], str | None] = _read):
        self._path = f"{proc_root}/mdstat"
        self._read = read

    def collect(self, reading: Reading) -> None:
        """Append each array's disks by state, required and missing."""
        text = self._read(self._path)
        if text is None:
            return
        for device, required, active, failed, spare in parse_mdstat(text):
            for state, count in (("active", active), ("failed", failed), ("spare", spare)):
                reading.gauges.append(Series(DISKS, {"device": device, "state": state}, count))
            labels = {"device": device}
            reading.gauges.append(Series(REQUIRED, labels, float(required)))
            reading.gauges.append(Series(MISSING, labels, float(max(0, required - active))))

"""md arrays from /proc/mdstat, and failed systemd units asked of systemctl off the cycle."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.mdadm import MdadmCollector, parse_mdstat
from tocsin.agent.collectors.systemd import SystemdCollector, failed_units
from tocsin.agent.config import load_config

MDSTAT = (
    "Personalities : [raid1] [raid0]\n"
    "md1 : active raid1 sdb2[1](F) sda2[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n"
    "      [=>...................]  recovery =  8.5% (89216/1046528) finish=0.1min\n\n"
    "md0 : active (auto-read-only) raid1 sdb1[1] sda1[0] sdc1[2](S)\n"
    "      1046528 blocks super 1.2 [2/2] [UU]\n\n"
    "md2 : active raid0 sdd[1] sde[0]\n      2093056 blocks super 1.2 512k chunks\n\n"
    "md127 : inactive sdf[0](S)\n      1046528 blocks super 1.2\n\n"
    "unused devices: <none>\n"
)


def test_mdstat_gives_each_arrays_disks_by_state_and_what_it_lacks() -> None:
    assert parse_mdstat(MDSTAT) == [
        ("md1", 2, 1, 1, 0),
        ("md0", 2, 2, 0, 1),
        ("md2", 2, 2, 0, 0),
        ("md127", 0, 0, 0, 1),
    ]


def test_a_degraded_array_lacks_a_disk(tmp_path: Path) -> None:
    (tmp_path / "mdstat").write_text(MDSTAT)
    reading = Reading()
    MdadmCollector(str(tmp_path)).collect(reading)
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in reading.gauges}
    assert values[("tocsin_md_disks_missing", (("device", "md1"),))] == 1.0
    assert values[("tocsin_md_disks_missing", (("device", "md0"),))] == 0.0
    assert values[("tocsin_md_disks", (("device", "md1"), ("state", "failed")))] == 1.0
    assert values[("tocsin_md_disks_required", (("device", "md2"),))] == 2.0


def test_a_host_without_md_has_no_series_and_no_failure(tmp_path: Path) -> None:
    reading = Reading()
    MdadmCollector(str(tmp_path)).collect(reading)
    assert (reading.gauges, reading.failures) == ([], 0)


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "systemctl"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return [str(path)]


def test_failed_units_are_read_from_systemctls_plain_list(tmp_path: Path) -> None:
    command = script(
        tmp_path,
        "printf 'nginx.service loaded failed failed A high performance web server\\n"
        "backup.timer    loaded failed failed Nightly backup\\n'",
    )
    assert failed_units(5.0, command) == ["backup.timer", "nginx.service"]
    assert failed_units(5.0, script(tmp_path, "true")) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("exec sleep 30", "systemctl gave no answer within 0.5s"),
        ("echo no bus >&2; exit 1", "exited 1"),
    ],
)
def test_a_hung_or_failing_systemctl_is_an_error_not_a_hang(
    tmp_path: Path, body: str, expected: str
) -> None:
    started = time.monotonic()
    with pytest.raises(OSError, match=expected):
        failed_units(0.5, script(tmp_path, body))
    assert time.monotonic() - started < 25  # killed at its timeout, not after its 30 s


def test_the_cycle_never_waits_for_systemctl() -> None:
    release = threading.Event()

    def slow(timeout: float) -> list[str]:
        release.wait(30)
        return ["nginx.service"]

    collector = SystemdCollector(slow, interval=60.0)
    reading = Reading()
    collector.collect(reading, 0.0)
    # Had the cycle waited for systemctl, it would hold its answer now.
    assert reading.gauges == []
    release.set()
    deadline = time.monotonic() + 10
    while not reading.gauges and time.monotonic() < deadline:
        time.sleep(0.01)
        collector.collect(reading, 1.0)
    assert [(s.name, dict(s.labels), s.value) for s in reading.gauges[:2]] == [
        ("tocsin_systemd_units_failed", {}, 1.0),
        ("tocsin_systemd_unit_failed", {"name": "nginx.service"}, 1.0),
    ]


def test_systemctl_failing_counts_a_collector_failure() -> None:
    def broken(timeout: float) -> list[str]:
        raise OSError("systemctl exited 1: Failed to connect to bus")

    collector = SystemdCollector(broken)
    reading = Reading()
    deadline = time.monotonic() + 10
    while not reading.failures and time.monotonic() < deadline:
        collector.collect(reading, 0.0)
        time.sleep(0.01)
    assert (
        reading.notes[-1]
        == "systemd units unavailable: systemctl exited 1: Failed to connect to bus"
    )


def test_config_switches_the_new_collectors_off(tmp_path: Path) -> None:
    path = tmp_path / "agent.yml"
    path.write_text("collectors: {mdadm: false, systemd: false}\n")
    config = load_config(path, env={"HOME": "/h"}, hostname="web1")
    assert config.sampler.disabled == ("mdadm", "systemd")

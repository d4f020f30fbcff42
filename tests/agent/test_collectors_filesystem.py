from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.agent.fake_psutil import Clock, HangingUsage, Partition, Usage, failing
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.filesystem import (
    DEVICE_ERROR,
    STUCK,
    USED,
    FilesystemCollector,
    select_mounts,
)

ROOT = Partition("/dev/sda1", "/", "ext4")


def mountpoints(*partitions: Partition, **options: object) -> list[str]:
    return [mount.mountpoint for mount in select_mounts(partitions, **options)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fstype", ["proc", "sysfs", "tmpfs", "overlay", "cgroup2", "devtmpfs", "squashfs", "fuse.lxcfs"]
)
def test_pseudo_filesystems_are_skipped(fstype: str) -> None:
    assert mountpoints(ROOT, Partition(fstype, "/x", fstype)) == ["/"]


@pytest.mark.parametrize("fstype", ["nfs4", "cifs", "ceph", "fuse.sshfs"])
def test_network_filesystems_are_skipped_unless_asked_for(fstype: str) -> None:
    share = Partition("server:/export", "/mnt/share", fstype)
    assert mountpoints(ROOT, share) == ["/"]
    assert mountpoints(ROOT, share, include_fstypes={fstype}) == ["/", "/mnt/share"]


def test_an_excluded_type_can_be_asked_for() -> None:
    assert mountpoints(Partition("overlay", "/", "overlay"), include_fstypes={"overlay"}) == ["/"]


@pytest.mark.parametrize(
    "mountpoint", ["/var/lib/docker/overlay2/abc/merged", "/run/credentials/x.service", "/dev/hd"]
)
def test_runtime_mountpoints_are_skipped(mountpoint: str) -> None:
    assert mountpoints(ROOT, Partition("/dev/sdb1", mountpoint, "ext4")) == ["/"]


def test_a_disk_bound_in_several_places_is_watched_once_on_its_shortest_path() -> None:
    binds = [
        Partition("/dev/sda1", "/etc/hosts", "ext4"),
        ROOT,
        Partition("/dev/sda1", "/srv", "ext4"),
    ]
    assert mountpoints(*binds) == ["/"]


def collect(collector: FilesystemCollector, now: float = 0.0) -> Reading:
    reading = Reading()
    collector.collect(reading, now)
    return reading


def by_mount(reading: Reading, name: str) -> dict[str, float]:
    return {s.labels["mountpoint"]: s.value for s in reading.gauges if s.name == name}


def test_used_ratio_is_used_over_used_plus_available() -> None:
    collector = FilesystemCollector(lambda: [ROOT], lambda _: Usage(used=30, free=10))
    reading = collect(collector)
    assert by_mount(reading, USED) == {"/": 0.75}
    assert by_mount(reading, STUCK) == {"/": 0.0}
    assert reading.gauges[0].labels == {"mountpoint": "/", "fstype": "ext4", "device": "/dev/sda1"}
    collector.close()


def test_mount_list_is_reused_until_the_refresh_interval() -> None:
    listings: list[float] = []
    clock = Clock()

    def partitions() -> list[Partition]:
        listings.append(clock.now)
        return [ROOT]

    collector = FilesystemCollector(partitions, lambda _: Usage(1, 1), mount_refresh_seconds=60)
    for now in (0.0, 10.0, 59.0, 60.0, 70.0):
        collect(collector, now)
        clock.now = now
    assert len(listings) == 2
    collector.close()


def test_unreadable_mount_list_is_noted() -> None:
    collector = FilesystemCollector(failing(PermissionError("mounts")), lambda _: Usage(1, 1))  # type: ignore[arg-type]
    assert collect(collector).notes == ["mount list unavailable: mounts"]


@pytest.fixture
def hanging() -> Iterator[HangingUsage]:
    usage = HangingUsage({"/hung"})
    yield usage
    usage.release.set()


def stuck_collector(hanging: HangingUsage) -> FilesystemCollector:
    mounts = [
        Partition("nas:/", "/", "nfs4"),
        Partition("nas:/hung", "/hung", "nfs4"),
        Partition("nas:/data", "/data", "nfs4"),
    ]
    return FilesystemCollector(lambda: mounts, hanging, fs_timeout=0.2, include_fstypes={"nfs4"})


def test_a_hung_mount_costs_at_most_the_timeout(hanging: HangingUsage) -> None:
    collector = stuck_collector(hanging)
    started = time.monotonic()
    reading = collect(collector)
    assert time.monotonic() - started < 1.0
    assert by_mount(reading, STUCK) == {"/": 0.0, "/hung": 1.0, "/data": 0.0}
    assert by_mount(reading, USED) == {"/": 0.25}
    assert reading.notes == [
        "filesystem /hung did not answer statvfs within 0.2s; skipped until it answers"
    ]


def test_a_stuck_mount_is_not_asked_again_while_stuck(hanging: HangingUsage) -> None:
    collector = stuck_collector(hanging)
    collect(collector)
    started = time.monotonic()
    reading = collect(collector)
    collect(collector)
    assert time.monotonic() - started < 0.5
    assert by_mount(reading, USED) == {"/": 0.25, "/data": 0.25}
    assert hanging.calls.count("/hung") == 1


def test_a_stuck_mount_is_read_again_once_it_answers(hanging: HangingUsage) -> None:
    collector = stuck_collector(hanging)
    collect(collector)
    hanging.release.set()
    for _ in range(100):
        reading = collect(collector)
        if by_mount(reading, USED).keys() == {"/", "/hung", "/data"}:
            break
        time.sleep(0.01)
    assert by_mount(reading, STUCK) == {"/": 0.0, "/hung": 0.0, "/data": 0.0}
    assert by_mount(reading, USED) == {"/": 0.25, "/hung": 0.25, "/data": 0.25}
    collector.close()


@pytest.mark.parametrize(
    ("partition", "on_worker"),
    [
        (ROOT, False),
        (Partition("/dev/mapper/vg-data", "/data", "xfs"), False),
        (Partition("nas:/export", "/mnt/nas", "nfs4"), True),
        (Partition("/dev/sdb1", "/mnt/win", "fuseblk"), True),
        (Partition("tmpfs", "/run/big", "tmpfs"), True),
    ],
)
def test_only_filesystems_that_can_hang_are_read_on_the_worker(
    partition: Partition, on_worker: bool
) -> None:
    threads: list[str] = []

    def usage(mountpoint: str) -> Usage:
        threads.append(threading.current_thread().name)
        return Usage(1, 1)

    collector = FilesystemCollector(
        lambda: [partition], usage, include_fstypes={"nfs4", "fuseblk", "tmpfs"}
    )
    collect(collector)
    collector.close()
    assert (threads[0] == "tocsin-statfs") is on_worker


@pytest.mark.parametrize(
    "partition",
    [Partition("/dev/sdb1", "/srv/private", "ext4"), Partition("nas:/x", "/srv/private", "nfs4")],
)
def test_a_mount_the_agent_cannot_read_gets_a_device_error_and_a_note(
    partition: Partition,
) -> None:
    def usage(mountpoint: str) -> Usage:
        if mountpoint == "/srv/private":
            raise PermissionError(13, "Permission denied")
        return Usage(1, 1)

    collector = FilesystemCollector(lambda: [ROOT, partition], usage, include_fstypes={"nfs4"})
    reading = collect(collector)
    collector.close()
    assert by_mount(reading, DEVICE_ERROR) == {"/": 0.0, "/srv/private": 1.0}
    assert by_mount(reading, USED) == {"/": 0.5}
    (series,) = [s for s in reading.gauges if s.name == DEVICE_ERROR and s.value == 1.0]
    assert series.labels == {"mountpoint": "/srv/private", **series.labels}
    assert set(series.labels) == {"mountpoint", "fstype", "device"}
    assert reading.notes == ["filesystem /srv/private cannot be read: Permission denied"]


def test_a_filesystem_that_stands_still_passes_on_the_same_gauges() -> None:
    usages = iter([Usage(30, 10), Usage(30, 10), Usage(31, 9)])
    collector = FilesystemCollector(lambda: [ROOT], lambda _: next(usages))
    first, second, third = (collect(collector, now) for now in (0.0, 1.0, 2.0))
    assert all(a is b for a, b in zip(first.gauges, second.gauges, strict=True))
    assert by_mount(third, USED) == {"/": 0.775} != by_mount(second, USED)
    assert third.gauges[0] is not second.gauges[0]

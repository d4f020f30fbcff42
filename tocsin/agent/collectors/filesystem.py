"""How full each real filesystem is, and which mounts stopped answering."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import psutil

from tocsin.agent.collectors.base import UNAVAILABLE, LastSeries, Reading, attempt
from tocsin.agent.collectors.statfs import (
    DiskUsage,
    FsUsage,
    UsageReader,
    read_statvfs,
    reason,
)
from tocsin.agent.sample import Series

USED = "tocsin_filesystem_used_ratio"
STUCK = "tocsin_filesystem_stuck"
DEVICE_ERROR = "tocsin_filesystem_device_error"
SIZE = "tocsin_filesystem_size_bytes"
FREE = "tocsin_filesystem_free_bytes"
AVAIL = "tocsin_filesystem_avail_bytes"
FILES = "tocsin_filesystem_files"
FILES_FREE = "tocsin_filesystem_files_free"
FILES_USED = "tocsin_filesystem_files_used_ratio"
READONLY = "tocsin_filesystem_readonly"

HELP = {
    USED: "Fraction of the filesystem's space in use, as df reports it (used / (used + available)).",
    STUCK: "1 while the filesystem does not answer statvfs within the timeout, else 0.",
    DEVICE_ERROR: "1 while statvfs on the mount fails (e.g. permission denied to the agent's "
    "user), else 0.",
    SIZE: "Filesystem size in bytes (node_filesystem_size_bytes).",
    FREE: "Filesystem free space in bytes, root's reserve included (node_filesystem_free_bytes).",
    AVAIL: "Filesystem space available to non-root users in bytes (node_filesystem_avail_bytes).",
    FILES: "Filesystem total file nodes (node_filesystem_files).",
    FILES_FREE: "Filesystem free file nodes (node_filesystem_files_free).",
    FILES_USED: "Fraction of the filesystem's file nodes (inodes) in use; absent without inodes.",
    READONLY: "1 while the filesystem is mounted read-only, else 0 (node_filesystem_readonly).",
}

# Kernel and memory-backed filesystems: no disk behind them to fill (node_exporter's list,
# plus tmpfs, ramfs and lxcfs as the issue asks). Overlay is a container's root: its space is the
# host's, so it is skipped unless asked for.
DEFAULT_EXCLUDED_FSTYPES = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs",
        "devpts", "devtmpfs", "efivarfs", "erofs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal",
        "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "nfsd", "overlay", "proc", "procfs",
        "pstore", "ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs",
        "tmpfs", "tracefs",
    }
)  # fmt: skip

# Filesystems served over the network, where statvfs can hang on a dead server. FUSE
# filesystems (fuse.*) count as these too: a user-space daemon can hang just the same.
DEFAULT_NETWORK_FSTYPES = frozenset(
    {
        "9p", "afs", "ceph", "cifs", "coda", "davfs", "glusterfs", "gpfs", "lustre", "ncpfs",
        "nfs", "nfs4", "smb3", "smbfs",
    }
)  # fmt: skip

# node_exporter's default: kernel trees and container runtimes' private mounts.
DEFAULT_EXCLUDED_MOUNTPOINTS = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)


class Partition(Protocol):
    """The fields of one entry of psutil.disk_partitions() this collector reads."""

    @property
    def device(self) -> str: ...
    @property
    def mountpoint(self) -> str: ...
    @property
    def fstype(self) -> str: ...


@dataclass(frozen=True)
class Mount:
    """A filesystem worth watching, with the labels its series carry."""

    mountpoint: str
    labels: dict[str, str]


def is_network(fstype: str, network_fstypes: Collection[str]) -> bool:
    """Tell whether statvfs on this type may wait on a remote server or a user-space daemon."""
    return fstype in network_fstypes or fstype.startswith("fuse.")


def answers_from_memory(mount: Mount, network_fstypes: Collection[str]) -> bool:
    """Tell whether statvfs is served from the kernel's in-memory superblock, so cannot hang.

    Filesystems on local block devices keep their free-space counters in memory; network and
    FUSE filesystems (fuseblk included) ask a server or a daemon, and go through the worker.
    """
    fstype = mount.labels["fstype"]
    return (
        mount.labels["device"].startswith("/dev/")
        and fstype not in ("fuse", "fuseblk")
        and not is_network(fstype, network_fstypes)
    )


def select_mounts(
    partitions: Sequence[Partition],
    *,
    include_fstypes: Collection[str] = (),
    exclude_fstypes: Collection[str] = DEFAULT_EXCLUDED_FSTYPES,
    network_fstypes: Collection[str] = DEFAULT_NETWORK_FSTYPES,
    exclude_mountpoints: str | None = DEFAULT_EXCLUDED_MOUNTPOINTS,
) -> list[Mount]:
    """Keep real, local filesystems (and the types asked for), one mount per block device."""
    excluded = re.compile(exclude_mountpoints) if exclude_mountpoints else None
    by_device: dict[str, Mount] = {}
    mounts: list[Mount] = []
    for part in partitions:
        fstype = part.fstype
        if fstype not in include_fstypes and (
            fstype in exclude_fstypes or is_network(fstype, network_fstypes)
        ):
            continue
        if excluded is not None and excluded.search(part.mountpoint):
            continue
        mount = Mount(
            part.mountpoint,
            {"mountpoint": part.mountpoint, "fstype": fstype, "device": part.device},
        )
        # Bind mounts show one disk at many places; alert once, on its shortest path.
        if part.device.startswith("/dev/"):
            seen = by_device.get(part.device)
            if seen is not None and len(seen.mountpoint) <= len(part.mountpoint):
                continue
            by_device[part.device] = mount
            if seen is not None:
                mounts.remove(seen)
        mounts.append(mount)
    return mounts


default_disk_partitions = functools.partial(psutil.disk_partitions, all=True)


class FilesystemCollector:
    """Read usage of the selected mounts, through a timeout where statvfs can hang.

    The mount list is re-read every `mount_refresh_seconds`, not on every pass.
    """

    def __init__(
        self,
        disk_partitions: Callable[[], Sequence[Partition]] = default_disk_partitions,
        disk_usage: Callable[[str], DiskUsage] = read_statvfs,
        *,
        fs_timeout: float = 2.0,
        mount_refresh_seconds: float = 60.0,
        include_fstypes: Collection[str] = (),
        exclude_fstypes: Collection[str] = DEFAULT_EXCLUDED_FSTYPES,
        network_fstypes: Collection[str] = DEFAULT_NETWORK_FSTYPES,
        exclude_mountpoints: str | None = DEFAULT_EXCLUDED_MOUNTPOINTS,
    ) -> None:
        self._disk_partitions = disk_partitions
        self._disk_usage = disk_usage
        self._reader = UsageReader(disk_usage, fs_timeout)
        self._timeout = fs_timeout
        self._network_fstypes = frozenset(network_fstypes)
        self._refresh_seconds = mount_refresh_seconds
        self._select = functools.partial(
            select_mounts,
            include_fstypes=frozenset(include_fstypes),
            exclude_fstypes=frozenset(exclude_fstypes),
            network_fstypes=frozenset(network_fstypes),
            exclude_mountpoints=exclude_mountpoints,
        )
        self._mounts: list[Mount] = []
        self._last = LastSeries()
        self._local: list[str] = []
        self._remote: list[str] = []
        self._listed_at: float | None = None

    def collect(self, reading: Reading, now: float) -> None:
        """Append the used ratio of each mount that answered and the stuck flag of every mount."""
        if self._listed_at is None or now - self._listed_at >= self._refresh_seconds:
            self._relist(reading, now)
        if not self._mounts:
            return
        usages = self._reader.read(self._remote) if self._remote else {}
        errors = dict(self._reader.errors) if self._remote else {}
        for mountpoint in self._local:
            try:
                usages[mountpoint] = self._disk_usage(mountpoint)
            except UNAVAILABLE as exc:
                errors[mountpoint] = reason(exc)
        stuck = self._reader.stuck if self._remote else frozenset()
        gauges = reading.gauges
        last = self._last
        last.begin()
        for mount in self._mounts:
            usage = usages.get(mount.mountpoint)
            hung = mount.mountpoint in stuck
            error = errors.get(mount.mountpoint)
            readable = error is None
            gauges += last.series(
                mount.mountpoint,
                (usage, hung, readable),
                mount.labels,
                _gauges,
                usage,
                hung,
                readable,
                mount.labels,
            )
            if error is not None:
                reading.notes.append(f"filesystem {mount.mountpoint} cannot be read: {error}")
            if hung:
                reading.notes.append(
                    f"filesystem {mount.mountpoint} did not answer statvfs within "
                    f"{self._timeout:g}s; skipped until it answers"
                )
        last.end()

    def close(self) -> None:
        """Let the worker thread exit."""
        self._reader.close()

    def _relist(self, reading: Reading, now: float) -> None:
        partitions = attempt(self._disk_partitions, "mount list", reading)
        if partitions is None:
            return
        self._mounts = self._select(partitions)
        local = [answers_from_memory(mount, self._network_fstypes) for mount in self._mounts]
        self._local = [m.mountpoint for m, inline in zip(self._mounts, local) if inline]
        self._remote = [m.mountpoint for m, inline in zip(self._mounts, local) if not inline]
        self._listed_at = now


def _gauges(
    usage: DiskUsage | None, hung: bool, readable: bool, labels: dict[str, str]
) -> list[Series]:
    """Return one mount's gauges: usage where statvfs answered, stuck and error always."""
    gauges: list[Series] = []
    if usage is not None:
        size = usage.used + usage.free
        if size > 0:
            gauges.append(Series(USED, labels, usage.used / size))
        if isinstance(usage, FsUsage):
            _details(usage, labels, gauges)
    gauges.append(Series(STUCK, labels, 1.0 if hung else 0.0))
    gauges.append(Series(DEVICE_ERROR, labels, 0.0 if readable else 1.0))
    return gauges


def _details(usage: FsUsage, labels: dict[str, str], gauges: list[Series]) -> None:
    """Append node_exporter's per-filesystem gauges, and the inode ratio where there are inodes."""
    gauges.append(Series(SIZE, labels, float(usage.size)))
    gauges.append(Series(FREE, labels, float(usage.free_all)))
    gauges.append(Series(AVAIL, labels, float(usage.free)))
    gauges.append(Series(FILES, labels, float(usage.files)))
    gauges.append(Series(FILES_FREE, labels, float(usage.files_free)))
    # btrfs and some network filesystems report no inode limit at all (files 0).
    if usage.files > 0:
        gauges.append(Series(FILES_USED, labels, 1.0 - usage.files_free / usage.files))
    gauges.append(Series(READONLY, labels, 1.0 if usage.readonly else 0.0))

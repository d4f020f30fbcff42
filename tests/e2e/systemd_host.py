"""A throwaway host for the units: systemd as PID 1 of private PID, mount and network namespaces.

The host's root is the lower layer of an overlay whose upper layer is a tmpfs inside the private
mount namespace, so systemd, dpkg and the services change nothing on the shared machine. /tmp,
/run and /var/tmp are fresh tmpfs mounts, and systemd's own command line picks a minimal target
and masks everything that would start Debian's services or clean the real /tmp. Killing PID 1
ends everything inside; the overlay and its tmpfs vanish with the last process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

MASKED = (
    "systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service "
    "systemd-tmpfiles-clean.timer systemd-udevd.service systemd-udev-trigger.service getty.target "
    "console-getty.service timers.target systemd-sysusers.service systemd-firstboot.service "
    "systemd-machine-id-commit.service ldconfig.service systemd-hwdb-update.service "
    "systemd-sysctl.service systemd-binfmt.service systemd-modules-load.service "
    "kmod-static-nodes.service systemd-remount-fs.service systemd-fsck-root.service "
    "local-fs.target swap.target systemd-random-seed.service systemd-update-utmp.service "
    "systemd-journal-flush.service systemd-logind.service apt-daily.timer "
    "apt-daily-upgrade.timer logrotate.timer dpkg-db-backup.timer man-db.timer e2scrub_all.timer "
    "fstrim.timer postgresql.service nginx.service dovecot.service"
).split()
TARGET = "tocsin-test.target"

BOOT = r"""
set -euo pipefail
work="$1"; target="$2"; switches="$3"
mount -t tmpfs -o size=4g,mode=0700 tmpfs "$work/layers"
mkdir -p "$work/layers/upper" "$work/layers/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/layers/upper,workdir=$work/layers/work" "$work/root"
root="$work/root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
for dir in tmp run var/tmp; do mount -t tmpfs tmpfs "$root/$dir"; done
for dir in tmp run var/tmp; do mountpoint -q "$root/$dir" || { echo "private /$dir missing" >&2; exit 3; }; done
mkdir -p "$root/share" && mount --bind "$work/share" "$root/share"
ip link set lo up
mkdir -p "$root/run/systemd/system"
printf '[Unit]\nDescription=Tocsin test host\n' > "$root/run/systemd/system/$target"
echo "$switches" > "$root/run/cmdline"
mount --bind "$root/run/cmdline" "$root/proc/cmdline"
mkdir -p "$root/run/tocsin-layers" && mount --bind -o ro "$work/layers" "$root/run/tocsin-layers"
# pivot_root, not chroot: the kernel refuses user namespaces (PrivateUsers=) to a chrooted process.
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
# In a container systemd reads its kernel-command-line switches from its own argv.
exec /lib/systemd/systemd --system --unit="$target" --log-target=console \
    --log-level=info $switches > /share/systemd.log 2>&1
"""


class HostError(Exception):
    """The namespace host did not boot or a command inside it failed."""


class SystemdHost:
    """Boot, drive and destroy one namespace host; use as a context manager."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.share = work / "share"
        self._unshare: subprocess.Popen[bytes] | None = None
        self.pid = 0

    def __enter__(self) -> SystemdHost:
        for name in ("layers", "root", "share"):
            (self.work / name).mkdir(parents=True, exist_ok=True)
        switches = " ".join(
            [f"systemd.unit={TARGET}", *(f"systemd.mask={unit}" for unit in MASKED)]
        )
        self._unshare = subprocess.Popen(
            [
                "unshare",
                "--pid",
                "--fork",
                "--mount",
                "--net",
                "--propagation",
                "private",
                "--",
                "bash",
                "-c",
                BOOT,
                "boot",
                str(self.work),
                TARGET,
                switches,
            ],
            start_new_session=True,
        )
        try:
            self.pid = self._child_pid()
            self._wait_for_manager()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._unshare is not None:
            try:
                self._unshare.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._unshare.pid, signal.SIGKILL)
                self._unshare.wait(timeout=10)

    def _child_pid(self) -> int:
        """Return the PID, seen from outside, of the namespace's PID 1 (systemd)."""
        assert self._unshare is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._unshare.poll() is not None:
                raise HostError(f"the namespace exited at once: {self.log()}")
            children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
            found = children.read_text().split() if children.exists() else []
            if found and os.readlink(f"/proc/{found[0]}/exe").endswith("systemd"):
                return int(found[0])
            time.sleep(0.05)
        raise HostError(f"systemd did not start: {self.log()}")

    def _wait_for_manager(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in {"running", "degraded"}:
                return
            time.sleep(0.2)
        raise HostError(f"systemd never finished booting: {self.log()}")

    def log(self) -> str:
        """Return the tail of systemd's own console log."""
        path = self.share / "systemd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def enter(self) -> list[str]:
        """Return the command prefix that runs a program inside the host."""
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "-n", "-r", "-w", "--"]

    def run(
        self, *command: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host (its root, PID, mount and network namespaces)."""
        result = subprocess.run(
            [*self.enter(), *command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise HostError(
                f"{' '.join(command)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
            )
        return result

    def python(self, code: str, *args: str, timeout: float = 60) -> str:
        """Run Python code inside the host's namespaces and return what it printed."""
        return self.run("/usr/bin/python3", "-c", code, *args, timeout=timeout).stdout

    def upper_paths(self, needle: str) -> list[str]:
        """List what the overlay's upper layer (everything the host changed) holds named *needle*.

        Whiteouts (character devices 0:0 marking a deletion from the lower layer) are left out:
        they record that something of the machine's own was removed, not something left behind.
        """
        upper = "/run/tocsin-layers/upper"
        found = self.run(
            "find", upper, "-name", f"*{needle}*", "-not", "-type", "c", check=False
        ).stdout.split()
        return [path.removeprefix(upper) for path in found]

    def wait_until(self, probe: str, expected: str, timeout: float = 30) -> float:
        """Poll a shell probe until it prints expected; return the seconds it took."""
        start = time.monotonic()
        last = ""
        while time.monotonic() - start < timeout:
            last = self.run("sh", "-c", probe, check=False).stdout.strip()
            if last == expected:
                return time.monotonic() - start
            time.sleep(0.2)
        raise HostError(f"{probe!r} printed {last!r}, not {expected!r}, for {timeout}s")

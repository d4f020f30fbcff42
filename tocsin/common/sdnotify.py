"""systemd's notify protocol over NOTIFY_SOCKET, with the socket module only (no libsystemd).

Under `Type=notify` systemd waits for READY=1 before it counts a service as started, and with
`WatchdogSec=` it restarts the service when WATCHDOG=1 stops arriving.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Send sd_notify datagrams to the socket systemd named, or nothing when there is none."""

    def __init__(self, environ: Mapping[str, str] = os.environ, pid: int | None = None) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading '@'; the kernel wants a NUL byte.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.pid = os.getpid() if pid is None else pid
        self.watchdog_seconds = _watchdog_seconds(environ, self.pid)

    @property
    def enabled(self) -> bool:
        """Tell whether systemd is listening."""
        return bool(self.address)

    @property
    def watchdog_interval(self) -> float | None:
        """Return how often to ping: twice per period, as sd_watchdog_enabled(3) recommends."""
        if not self.address or self.watchdog_seconds is None:
            return None
        return self.watchdog_seconds / 2

    def send(self, *lines: str) -> bool:
        """Send `lines` in one datagram; report failure instead of raising, as systemd may be gone."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", self.address.lstrip("\0"), exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Say start-up (or a reload) is complete, with an optional `systemctl status` line."""
        extra = [f"STATUS={status}"] if status else []
        return self.send("READY=1", f"MAINPID={self.pid}", *extra)

    def watchdog(self) -> bool:
        """Say the service is still alive, when systemd asked for a watchdog."""
        return self.watchdog_seconds is not None and self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        """Say a config reload has begun; ready() says it ended."""
        return self.send("RELOADING=1")

    def stopping(self) -> bool:
        """Say shutdown has begun, so systemd does not mistake it for a hang."""
        return self.send("STOPPING=1")


def _watchdog_seconds(environ: Mapping[str, str], pid: int) -> float | None:
    """Return the watchdog period systemd asked this process for, if any."""
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if owner and owner != str(pid):
        return None
    return int(usec) / 1_000_000

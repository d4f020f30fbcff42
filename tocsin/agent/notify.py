"""systemd's notify protocol (READY=1, WATCHDOG=1) over NOTIFY_SOCKET, with the socket module only."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Send state lines to the service manager; does nothing when not started by systemd."""

    def __init__(self, env: Mapping[str, str]) -> None:
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or (pid.isdigit() and int(pid) == os.getpid())
        # Ping twice per period, as sd_watchdog_enabled(3) recommends.
        self.watchdog_interval = (
            int(usec) / 2e6 if usec.isdigit() and ours and self._address else None
        )

    @property
    def enabled(self) -> bool:
        """Tell whether a service manager listens."""
        return bool(self._address)

    def notify(self, *lines: str) -> None:
        """Send `lines` (e.g. READY=1) in one datagram; a failure is logged, never raised."""
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", self._address.lstrip("\0"), exc)

    def ready(self) -> None:
        """Tell systemd start-up is complete (Type=notify)."""
        self.notify("READY=1", f"MAINPID={os.getpid()}")

    def watchdog(self) -> None:
        """Tell systemd the main loop is alive (WatchdogSec=)."""
        if self.watchdog_interval is not None:
            self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        """Show a one-line status in `systemctl status`."""
        self.notify(f"STATUS={text}")

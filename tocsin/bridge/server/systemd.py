"""Tell systemd the bridge is ready and alive while its own /healthz answers (Type=notify).

The watchdog runs on a thread of its own and pings only while the health check passes, so a
wedged event loop gets restarted rather than kept alive by a thread that still runs.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Protocol

from tocsin.common.sdnotify import Notifier

log = logging.getLogger(__name__)

STARTUP_POLL_SECONDS = 0.1
IDLE_POLL_SECONDS = 1.0


class _ServerConfig(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


class Server(Protocol):
    """The parts of uvicorn.Server this module watches (read only)."""

    @property
    def started(self) -> bool: ...
    @property
    def should_exit(self) -> bool: ...
    @property
    def config(self) -> _ServerConfig: ...


def healthz_probe(host: str, port: int, timeout: float) -> Callable[[], bool]:
    """Return a check that GET /healthz on the bridge's own listener answers 200 in time."""
    loopback = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    netloc = f"[{loopback}]:{port}" if ":" in loopback else f"{loopback}:{port}"
    url = f"http://{netloc}/healthz"

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return int(response.status) == 200
        except (OSError, urllib.error.URLError) as exc:
            log.warning("watchdog: %s did not answer: %s", url, exc)
            return False

    return probe


class Watchdog:
    """Send READY=1 once the service is started, then WATCHDOG=1 while its health check passes."""

    def __init__(
        self,
        notifier: Notifier,
        is_started: Callable[[], bool],
        is_exiting: Callable[[], bool],
        probe: Callable[[], bool],
        status: str | None = None,
    ) -> None:
        self._notifier = notifier
        self._is_started = is_started
        self._is_exiting = is_exiting
        self._probe = probe
        self._status = status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sd-notify", daemon=True)

    def start(self) -> None:
        """Begin watching on a daemon thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread and wait for it at most `timeout` seconds."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._is_started():
            if self._is_exiting() or self._stop.wait(STARTUP_POLL_SECONDS):
                return
        self._notifier.ready(self._status)
        period = self._notifier.watchdog_seconds
        tick = period / 2 if period else IDLE_POLL_SECONDS
        while not self._stop.wait(tick) and not self._is_exiting():
            if period and self._probe():
                self._notifier.watchdog()
        self._notifier.stopping()


def notify_systemd(server: Server, environ: Mapping[str, str] = os.environ) -> Watchdog | None:
    """Start readiness and watchdog notifications for a uvicorn server under systemd."""
    notifier = Notifier(environ)
    if not notifier.enabled:
        return None
    period = notifier.watchdog_seconds or 10.0
    watchdog = Watchdog(
        notifier,
        is_started=lambda: server.started,
        is_exiting=lambda: server.should_exit,
        probe=healthz_probe(server.config.host, server.config.port, timeout=period / 4),
        status="serving",
    )
    watchdog.start()
    return watchdog

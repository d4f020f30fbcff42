"""Failed systemd units, from `systemctl list-units --failed`, asked off the cycle.

No D-Bus client: one `systemctl` run every `interval` (default 1m) on a thread of its own,
killed at `timeout`, so a hung systemd never stalls the cycle. The collector runs where systemd
is the init system (/run/systemd/system exists) unless `collectors: {systemd: false}`.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable, Sequence

from tocsin.agent.collectors.base import Reading
from tocsin.agent.sample import Series

log = logging.getLogger(__name__)
UNITS_FAILED = "tocsin_systemd_units_failed"
UNIT_FAILED = "tocsin_systemd_unit_failed"
HELP = {
    UNITS_FAILED: 'Units systemd reports failed (node_systemd_units{state="failed"}).',
    UNIT_FAILED: "1 for each unit systemd reports failed, by unit name.",
}
DEFAULT_INTERVAL = 60.0
DEFAULT_TIMEOUT = 5.0
COMMAND = ("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager", "--full")


def failed_units(timeout: float, command: Sequence[str] = COMMAND) -> list[str]:
    """Return the names of the failed units; raise OSError saying why systemctl could not tell."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"systemctl gave no answer within {timeout:g}s") from exc
    if done.returncode != 0:
        raise OSError(f"systemctl exited {done.returncode}: {done.stderr.strip()[:200]}")
    return sorted({line.split()[0] for line in done.stdout.splitlines() if line.strip()})


class SystemdCollector:
    """Publish the failed units found by the last systemctl run; start the next when due."""

    def __init__(
        self,
        query: Callable[[float], list[str]] = failed_units,
        interval: float = DEFAULT_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._query = query
        self._interval = interval
        self._timeout = timeout
        self._lock = threading.Lock()
        self._running = False
        self._due = 0.0
        self._units: list[str] | None = None
        self._error = ""

    def collect(self, reading: Reading, now: float) -> None:
        """Append the last answer (nothing before the first); a failed run counts a failure."""
        with self._lock:
            if not self._running and now >= self._due:
                self._running, self._due = True, now + self._interval
                threading.Thread(target=self._ask, name="tocsin-systemd", daemon=True).start()
            units, error = self._units, self._error
        if error:
            reading.notes.append(f"systemd units unavailable: {error}")
            reading.failures += 1
            return
        if units is None:
            return
        reading.gauges.append(Series(UNITS_FAILED, {}, float(len(units))))
        reading.gauges += [Series(UNIT_FAILED, {"name": unit}, 1.0) for unit in units]

    def _ask(self) -> None:
        try:
            units, error = self._query(self._timeout), ""
        except OSError as exc:
            units, error = None, str(exc)
        with self._lock:
            if units is not None and units != self._units:
                log.info("systemd units failed: %s", ", ".join(units) or "none")
            self._units = units if units is not None else self._units
            self._error = error
            self._running = False

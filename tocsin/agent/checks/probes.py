"""One run of one service check: a process, a TCP port, an HTTP URL, a TLS certificate, a file.

Each probe returns what it found as gauge values and, when it failed, why (one line, logged by
the runner when it changes). Network probes honour the check's timeout on every socket call.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tocsin.agent.checks import CERT_EXPIRY, FILE_AGE, FILE_SIZE, HTTP_STATUS, PROCESSES
from tocsin.agent.checks.spec import CheckSpec


@dataclass(frozen=True)
class Outcome:
    """What one run found: passed or not, the other gauges' values, and why it failed."""

    up: bool
    values: dict[str, float] = field(default_factory=dict)
    problem: str = ""


def _context(spec: CheckSpec) -> ssl.SSLContext:
    """Trust the check's ca_file, else the system's store."""
    return ssl.create_default_context(cafile=spec.ca_file)


def _host_port(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


def process_names(proc_root: str = "/proc") -> Iterable[str]:
    """Yield the name (comm) of every process, as `ps -e -o comm` shows it."""
    for entry in os.scandir(proc_root):
        if entry.name.isdigit():
            try:
                with open(f"{entry.path}/comm", encoding="utf-8", errors="replace") as comm:
                    yield comm.read().rstrip("\n")
            except OSError:
                continue


def probe_process(spec: CheckSpec, names: Callable[[], Iterable[str]] = process_names) -> Outcome:
    """Count the processes called `target` (the kernel keeps 15 characters of a name)."""
    wanted = spec.target[:15]
    count = sum(1 for name in names() if name == wanted)
    problem = "" if count else f"no process named {spec.target}"
    return Outcome(count > 0, {PROCESSES: float(count)}, problem)


def probe_pidfile(spec: CheckSpec, proc_root: str = "/proc") -> Outcome:
    """Tell whether the process whose id the pidfile holds is alive."""
    try:
        pid = int(Path(spec.target).read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError) as exc:
        return Outcome(False, {PROCESSES: 0.0}, f"pidfile {spec.target} unreadable: {exc}")
    alive = pid > 0 and os.path.exists(f"{proc_root}/{pid}")
    problem = "" if alive else f"process {pid} of {spec.target} is not running"
    return Outcome(alive, {PROCESSES: 1.0 if alive else 0.0}, problem)


def probe_tcp(spec: CheckSpec) -> Outcome:
    """Tell whether the port accepts a connection within the timeout."""
    try:
        with socket.create_connection(_host_port(spec.target), timeout=spec.timeout):
            return Outcome(True)
    except OSError as exc:
        return Outcome(False, problem=f"{spec.target}: {exc.strerror or exc}")


def probe_http(spec: CheckSpec) -> Outcome:
    """GET the URL; it passes when the status is an accepted one (default 200-399)."""
    parts = urlsplit(spec.target)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=spec.timeout, context=_context(spec)
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=spec.timeout
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", path, headers={"User-Agent": "tocsin-agent check"})
        response = connection.getresponse()
        response.read(1 << 16)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, {HTTP_STATUS: 0.0}, f"{spec.target}: {exc}")
    finally:
        connection.close()
    passed = status in spec.statuses if spec.statuses else 200 <= status < 400
    problem = "" if passed else f"{spec.target} answered HTTP {status}"
    return Outcome(passed, {HTTP_STATUS: float(status)}, problem)


def probe_tls(spec: CheckSpec, now: Callable[[], float] = time.time) -> Outcome:
    """Shake hands with the server; report its certificate's seconds left before expiry."""
    host, port = _host_port(spec.target)
    try:
        with socket.create_connection((host, port), timeout=spec.timeout) as raw:
            with _context(spec).wrap_socket(raw, server_hostname=host) as tls:
                cert = tls.getpeercert()
    except (OSError, ValueError) as exc:
        return Outcome(False, problem=f"{spec.target}: {exc}")
    not_after = cert.get("notAfter") if cert else None
    if not isinstance(not_after, str):
        return Outcome(False, problem=f"{spec.target}: the certificate has no expiry date")
    left = ssl.cert_time_to_seconds(not_after) - now()
    problem = "" if left > 0 else f"{spec.target}: the certificate expired"
    return Outcome(left > 0, {CERT_EXPIRY: left}, problem)


def probe_file(spec: CheckSpec, now: Callable[[], float] = time.time) -> Outcome:
    """Tell whether the file exists and, with max_age, is fresh enough."""
    try:
        stat = os.stat(spec.target)
    except OSError as exc:
        return Outcome(False, problem=f"{spec.target}: {exc.strerror or exc}")
    age = max(0.0, now() - stat.st_mtime)
    values = {FILE_AGE: age, FILE_SIZE: float(stat.st_size)}
    if spec.max_age is not None and age > spec.max_age:
        return Outcome(
            False, values, f"{spec.target} is {age:.0f}s old (max_age {spec.max_age:g}s)"
        )
    return Outcome(True, values)


PROBES: dict[str, Callable[[CheckSpec], Outcome]] = {
    "process": probe_process,
    "pidfile": probe_pidfile,
    "tcp": probe_tcp,
    "http": probe_http,
    "tls": probe_tls,
    "file": probe_file,
}

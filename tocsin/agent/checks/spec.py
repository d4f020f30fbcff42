"""The `checks:` list of the agent's config: one service check per item, each fault named by line.

    checks:
      - {name: nginx, process: nginx}                  # a process of that name runs
      - {name: postgres, pidfile: /run/postgresql/15-main.pid}
      - {name: ssh, tcp: "127.0.0.1:22"}               # the port accepts a connection
      - {name: api, http: "http://127.0.0.1:8080/health", status: [200]}
      - {name: site-cert, tls: "www.example.com:443"}  # the certificate's days left
      - {name: backup, file: /var/backups/db.dump, max_age: 26h}

Every check may set `timeout` (default 5s) and `interval` (default 30s); http and tls take
`ca_file` (default: the system's trust store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tocsin.agent.errors import ConfigError
from tocsin.common.durations import parse_duration
from tocsin.common.yamlsource import LinedDict, shown

KINDS = ("process", "pidfile", "tcp", "http", "tls", "file")
_OPTIONS = {
    "process": (),
    "pidfile": (),
    "tcp": (),
    "http": ("status", "ca_file"),
    "tls": ("ca_file",),
    "file": ("max_age",),
}
_COMMON = ("name", "timeout", "interval")
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
DEFAULT_TIMEOUT = 5.0
DEFAULT_INTERVAL = 30.0


@dataclass(frozen=True)
class CheckSpec:
    """One service check: what to look at, how long it may take and how often it runs."""

    name: str
    kind: str
    target: str
    timeout: float = DEFAULT_TIMEOUT
    interval: float = DEFAULT_INTERVAL
    # http: the status codes that pass; empty means 200-399.
    statuses: tuple[int, ...] = ()
    # file: older than this fails the check.
    max_age: float | None = None
    ca_file: str | None = None

    @property
    def label(self) -> str:
        """Return the `kind` label: pidfile checks are process checks."""
        return "process" if self.kind == "pidfile" else self.kind


class _Item:
    def __init__(self, node: LinedDict, source: str, position: int) -> None:
        self.node, self.source = node, source
        self.name = str(node.get("name", f"#{position}"))

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.source}:{self.node.line_of(key)}: check {shown(self.name)}: '{key}' {problem}"
        )

    def duration(self, key: str, default: float) -> float:
        raw = self.node.get(key)
        if raw is None:
            return default
        try:
            seconds = parse_duration(raw) if isinstance(raw, str) else 0.0
        except ValueError:
            seconds = 0.0
        if seconds <= 0:
            raise self.fail(key, f"is {shown(raw)}; expected a duration such as '5s'")
        return seconds


def parse_checks(raw: Any, source: str, line: int, base: Path) -> tuple[CheckSpec, ...]:
    """Build the checks of a `checks:` list; raise ConfigError naming file, line and key."""
    if not isinstance(raw, list):
        raise ConfigError(f"{source}:{line}: 'checks' is {shown(raw)}; expected a list of checks")
    checks: list[CheckSpec] = []
    for position, node in enumerate(raw, 1):
        if not isinstance(node, LinedDict):
            raise ConfigError(
                f"{source}:{line}: check #{position} is {shown(node)}; expected a mapping"
            )
        check = _parse(_Item(node, source, position), base)
        if any(other.name == check.name for other in checks):
            raise _Item(node, source, position).fail("name", "is used by an earlier check")
        checks.append(check)
    return tuple(checks)


def _parse(item: _Item, base: Path) -> CheckSpec:
    node = item.node
    name = node.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise item.fail("name", f"is {shown(name)}; expected a name such as nginx or api-health")
    kinds = [kind for kind in KINDS if kind in node]
    if len(kinds) != 1:
        raise item.fail(
            kinds[1] if len(kinds) > 1 else "name",
            f"needs exactly one of {', '.join(KINDS)}",
        )
    kind = kinds[0]
    allowed = (*_COMMON, kind, *_OPTIONS[kind])
    for key in node:
        if key not in allowed:
            raise item.fail(key, f"is not a key of a {kind} check; use {', '.join(allowed)}")
    target = node[kind]
    if not isinstance(target, (str, int)) or not str(target):
        raise item.fail(kind, f"is {shown(target)}; expected text")
    target = _target(item, kind, str(target), base)
    interval = item.duration("interval", DEFAULT_INTERVAL)
    timeout = item.duration("timeout", min(DEFAULT_TIMEOUT, interval))
    if timeout > interval:
        raise item.fail("timeout", f"is longer than the check's interval ({interval:g}s)")
    return CheckSpec(
        name=name,
        kind=kind,
        target=target,
        timeout=timeout,
        interval=interval,
        statuses=_statuses(item),
        max_age=item.duration("max_age", 0.0) or None,
        ca_file=str(base / str(node["ca_file"])) if node.get("ca_file") is not None else None,
    )


def _target(item: _Item, kind: str, target: str, base: Path) -> str:
    if kind in ("tcp", "tls"):
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise item.fail(kind, f"is {shown(target)}; expected host:port such as db1:5432")
    elif kind == "http":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise item.fail(kind, f"is {shown(target)}; expected an http:// or https:// URL")
    elif kind in ("pidfile", "file"):
        return str(base / target)
    return target


def _statuses(item: _Item) -> tuple[int, ...]:
    raw = item.node.get("status")
    if raw is None:
        return ()
    codes = raw if isinstance(raw, list) else [raw]
    if not codes or not all(
        isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
        for code in codes
    ):
        raise item.fail("status", f"is {shown(raw)}; expected HTTP status codes such as [200]")
    return tuple(codes)

"""Thousands of idle or trickling connections held against a bridge, and what it made of them.

Shared by tests/bridge/test_server_guard.py (5,000 connections, seconds) and
bench/bridge_connections.py (more, longer). Connections come in issue #16's proportions:
40 % say nothing, 40 % send a header line every `interval`, 20 % send complete headers and
then a body byte every `interval`. Each records when the server closed it and the first bytes
it answered. The connections are held by a child process (`python -m tests.bridge.slowloris`),
so that the threads here probing /healthz on a fresh connection, as a load balancer does, and
counting the server's open file descriptors do not wait behind them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

from tests.bridge.helpers import INGEST

KINDS = ("idle", "headers", "body")
QUIET_SECONDS = 2.0  # /healthz probed before and after the siege, for the machine's own pace
_BODY_HEAD = (
    "POST /api/v2/alerts HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer {token}\r\n"
    "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n["
)


@dataclass
class Held:
    """One held connection: its kind, when it opened, when the server ended it, what it said."""

    kind: str
    opened: float = 0.0
    closed: float | None = None
    refused: bool = False
    answer: bytes = b""

    def lifetime(self) -> float | None:
        return None if self.closed is None else self.closed - self.opened


@dataclass
class Siege:
    """Everything one run saw: the connections, /healthz latencies, descriptor counts."""

    held: list[Held]
    healthz: list[float] = field(default_factory=list)
    healthz_failed: int = 0
    quiet_healthz: list[float] = field(default_factory=list)  # before and after the siege
    fds: list[int] = field(default_factory=list)
    fd_limit: int = 0

    def healthz_p(self, fraction: float, quiet: bool = False) -> float:
        ordered = sorted(self.quiet_healthz if quiet else self.healthz)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0

    def still_open(self) -> list[Held]:
        return [held for held in self.held if held.closed is None]

    def longest(self) -> float:
        return max((held.lifetime() or 0.0 for held in self.held), default=0.0)

    def answered(self, prefix: bytes) -> int:
        return sum(1 for held in self.held if held.answer.startswith(prefix))


def mix(count: int) -> list[str]:
    """Return `count` connection kinds in the proportions 2:2:1, interleaved."""
    pattern = ("idle", "headers", "idle", "headers", "body")
    return [pattern[n % len(pattern)] for n in range(count)]


async def _hold(held: Held, host: str, port: int, interval: float, follow: float) -> None:
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    except (OSError, TimeoutError):
        held.refused = True
        held.closed = held.opened = loop.time()
        return
    held.opened = loop.time()
    until = held.opened + follow
    if held.kind == "headers":
        writer.write(b"GET /api/incidents HTTP/1.1\r\nHost: bridge\r\n")
    elif held.kind == "body":
        writer.write(_BODY_HEAD.format(token=INGEST).encode())

    async def trickle() -> None:
        n = 0
        while True:
            await asyncio.sleep(interval)
            n += 1
            writer.write(f"X-Slow-{n}: 1\r\n".encode() if held.kind == "headers" else b" ")

    feeder = asyncio.ensure_future(trickle()) if held.kind != "idle" else None
    try:
        async with asyncio.timeout(max(0.0, until - loop.time())):
            while chunk := await reader.read(4096):
                held.answer += chunk
        held.closed = loop.time()
    except (OSError, TimeoutError):
        if loop.time() < until:  # a reset is the server ending it too
            held.closed = loop.time()
    finally:
        if feeder is not None:
            feeder.cancel()
        writer.close()


def _probe_healthz(url: str, siege: Siege, stop: threading.Event, every: float) -> None:
    host, port = url.removeprefix("http://").split(":")
    while not stop.wait(every):
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
        except (OSError, http.client.HTTPException):
            ok = False
        if ok:
            siege.healthz.append(time.perf_counter() - started)
        else:
            siege.healthz_failed += 1


def _count_fds(pid: int, siege: Siege, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            siege.fds.append(len(os.listdir(f"/proc/{pid}/fd")))
        except OSError:
            return


async def hold_all(
    url: str, connections: int, interval: float, hold_for: float, ramp: float
) -> list[Held]:
    """Open `connections` slow connections over `ramp` s; follow each for `hold_for` s at most."""
    host, port = url.removeprefix("http://").split(":")
    held = [Held(kind) for kind in mix(connections)]
    tasks = []
    for n, one in enumerate(held):
        tasks.append(asyncio.ensure_future(_hold(one, host, int(port), interval, hold_for)))
        if n % 100 == 99:
            await asyncio.sleep(ramp * 100 / connections)
    await asyncio.wait(tasks, timeout=ramp + hold_for + 60)
    return held


def siege(
    url: str,
    pid: int,
    *,
    connections: int,
    interval: float = 5.0,
    hold_for: float = 20.0,
    ramp: float = 2.0,
) -> Siege:
    """Hold `connections` slow connections against the server `pid` at `url`; report all of it."""
    result = Siege([])
    result.fd_limit = psutil.Process(pid).rlimit(psutil.RLIMIT_NOFILE)[0]
    _quietly(url, result)
    stop = threading.Event()
    watchers = [
        threading.Thread(target=_probe_healthz, args=(url, result, stop, 0.05)),
        threading.Thread(target=_count_fds, args=(pid, result, stop, 0.1)),
    ]
    for watcher in watchers:
        watcher.start()
    args = [url, str(connections), str(interval), str(hold_for), str(ramp)]
    try:
        child = subprocess.run(
            [sys.executable, "-m", "tests.bridge.slowloris", *args],
            capture_output=True,
            check=True,
            timeout=ramp + hold_for + 90,
        )
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join(10)
    for record in json.loads(child.stdout):
        record["answer"] = record["answer"].encode("latin-1")
        result.held.append(Held(**record))
    _quietly(url, result)
    return result


def _quietly(url: str, result: Siege) -> None:
    """Probe /healthz for QUIET_SECONDS with no siege: the pace of the machine itself."""
    stop = threading.Event()
    quiet = Siege([])
    prober = threading.Thread(target=_probe_healthz, args=(url, quiet, stop, 0.05))
    prober.start()
    stop.wait(QUIET_SECONDS)
    stop.set()
    prober.join(10)
    result.quiet_healthz += quiet.healthz


def main(argv: list[str]) -> None:
    """Hold the connections `siege` asks for and print what became of each as JSON."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    url, connections, interval, hold_for, ramp = argv
    held = asyncio.run(
        hold_all(url, int(connections), float(interval), float(hold_for), float(ramp))
    )
    records = [dataclasses.asdict(one) for one in held]
    for record in records:
        record["answer"] = record["answer"][:64].decode("latin-1")
    json.dump(records, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A fleet's requests from a few generator processes, each an asyncio loop on keep-alive connections.

Request n of the run falls due at start + n * 30 s / agents: agent n % agents sends its heartbeat,
or, for 1 % of the agents on every other beat, a new alert (so 1 % fire an alert a minute).
Generator process g takes every G-th request, and its connection c every C-th of those. A
response's time runs from writing the request to reading the whole answer; `lag` is how late a
request was written, so a generator (or a connection waiting on a slow answer) that falls behind
shows there rather than hiding in the bridge's figures. Each process measures its own CPU.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from tests.bridge.helpers import INGEST

INTERVAL = 30.0  # the agents' heartbeat interval
TIMEOUT = 10.0  # an agent gives a request up after this
GENERATORS = 2


@dataclass(frozen=True)
class Plan:
    """What one generator process sends."""

    host: str
    port: int
    agents: int
    seconds: float
    prefix: str
    start: float  # wall-clock time of request 0, shared by every generator process
    index: int
    processes: int
    connections: int


@dataclass
class Result:
    """What came back: latencies (s) by kind, lateness of writes, failures, generator CPU (s)."""

    beats: list[float] = field(default_factory=list)
    alerts: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    offered: int = 0
    failed: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # of failures; 0: no answer
    cpu: float = 0.0

    def add(self, other: Result) -> None:
        """Fold another generator's result into this one."""
        self.beats += other.beats
        self.alerts += other.alerts
        self.lag += other.lag
        self.offered += other.offered
        self.failed += other.failed
        self.statuses.update(other.statuses)
        self.cpu += other.cpu


def run_fleet(url: str, agents: int, seconds: float, prefix: str) -> Result:
    """Send one fleet's requests for `seconds` from GENERATORS processes; return the results."""
    host, port = url.removeprefix("http://").split(":")
    connections = max(2, min(64, agents // (250 * GENERATORS)))
    start = time.time() + 1.0
    plans = [
        Plan(host, int(port), agents, seconds, prefix, start, g, GENERATORS, connections)
        for g in range(GENERATORS)
    ]
    total = Result()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=GENERATORS, mp_context=context) as pool:
        for result in pool.map(generate, plans):
            total.add(result)
    return total


def generate(plan: Plan) -> Result:
    """Run one generator process's share of the fleet (in the process pool)."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = Result()
    asyncio.run(_generate(plan, result))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return result


async def _generate(plan: Plan, result: Result) -> None:
    base = time.monotonic() + (plan.start - time.time())
    await asyncio.gather(*(_connection(plan, c, base, result) for c in range(plan.connections)))


def _request(plan: Plan, n: int) -> tuple[str, bytes]:
    agent = n % plan.agents
    beat = n // plan.agents
    if agent % 100 == 0 and beat % 2 == 0:
        labels = {"alertname": "Fleet", "instance": f"{plan.prefix}{agent}", "firing": str(beat)}
        return "alert", b"/api/v2/alerts " + json.dumps([{"labels": labels}]).encode()
    body = {"host": f"{plan.prefix}{agent}", "interval_seconds": INTERVAL}
    return "beat", b"/api/v1/heartbeats " + json.dumps(body).encode()


async def _connection(plan: Plan, c: int, base: float, result: Result) -> None:
    step = INTERVAL / plan.agents
    stride = plan.processes * plan.connections
    count = int(plan.seconds / step)
    link: _Link | None = None
    for n in range(plan.index + c * plan.processes, count, stride):
        due = base + n * step
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        kind, request = _request(plan, n)
        path, body = request.split(b" ", 1)
        sent = time.monotonic()
        result.lag.append(sent - due)
        result.offered += 1
        try:
            if link is None:
                link = await _Link.open(plan.host, plan.port)
            status = await asyncio.wait_for(link.post(path, body), TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, ValueError):  # TimeoutError is an OSError
            status = 0
        if status != 200:
            result.failed += 1
            result.statuses[status] += 1
            if link is not None:
                link.close()
            link = None
            continue
        (result.beats if kind == "beat" else result.alerts).append(time.monotonic() - sent)
    if link is not None:
        link.close()


class _Link:
    """One keep-alive HTTP/1.1 connection, enough of the protocol for the bridge's JSON answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.head = (
            b"Host: bench\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            % (INGEST.encode())
        )

    @classmethod
    async def open(cls, host: str, port: int) -> _Link:
        """Connect to the bridge."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, path: bytes, body: bytes) -> int:
        """POST `body` and read the answer; return its status."""
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path, self.head, len(body), body)
        )
        first = await self.reader.readline()
        if not first:
            raise ConnectionResetError("the bridge closed the connection")
        status = int(first.split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()

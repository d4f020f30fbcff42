"""A webhook receiver in a process of its own, noting when each alert's page first arrived.

The paging bench's senders, the bridge and Alertmanager all page it, so it must not be the
bottleneck it measures: it runs apart from the bench's sender threads (no shared GIL), on
asyncio with HTTP/1.1 keep-alive (as receivers behind nginx or a load balancer are), and reads
each alert's `instance` label straight from the body. Arrival times are time.perf_counter(),
CLOCK_MONOTONIC on Linux, which the bench process reads on the same clock.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import threading
import time
from multiprocessing.connection import Connection

INSTANCE = re.compile(rb'"instance":\s*"([^"\\]+)"')
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
HEAD_LIMIT = 65536


class _Page(asyncio.Protocol):
    """One connection: requests in turn, each answered 200 once its body is in."""

    def __init__(self, arrived: dict[str, float]) -> None:
        self.arrived = arrived
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > HEAD_LIMIT and self.transport is not None:
                    self.transport.close()
                return
            head = self.buffer[:end].lower()
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
            size = int(match.group(1)) if match else 0
            if len(self.buffer) < end + 4 + size:
                return
            at = time.perf_counter()
            body = self.buffer[end + 4 : end + 4 + size]
            self.buffer = self.buffer[end + 4 + size :]
            for name in INSTANCE.findall(body):
                self.arrived.setdefault(name.decode(), at)
            if self.transport is not None:
                self.transport.write(OK)


def _serve(pipe: Connection) -> None:
    """Serve on 127.0.0.1 (port sent on the pipe); answer 'get' with the arrivals so far."""
    arrived: dict[str, float] = {}
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: _Page(arrived), "127.0.0.1", 0, backlog=1024)
    )
    pipe.send(server.sockets[0].getsockname()[1])

    def answer() -> None:
        while True:
            if pipe.recv() != "get":
                break
            # A copy under the GIL: the loop adds entries between bytecodes, never mid-copy.
            pipe.send(dict(arrived))
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=answer, daemon=True).start()
    loop.run_forever()
    server.close()


class Receiver:
    """Start the receiver process; `port`, `arrivals()` and `close()`."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        if not self._pipe.poll(30):
            raise RuntimeError("the page receiver did not start within 30 s")
        self.port: int = self._pipe.recv()

    def arrivals(self) -> dict[str, float]:
        """Return when each alert's page first arrived, by its instance label."""
        self._pipe.send("get")
        found: dict[str, float] = self._pipe.recv()
        return found

    def close(self) -> None:
        """Stop the process."""
        self._pipe.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

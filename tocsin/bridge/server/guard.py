"""Hold the bridge's ground on the network: bounded connections, deadlines on headers, no lingering.

uvicorn accepts every connection, has no deadline on a request's headers, answers its own
concurrency limit with 503 to /healthz too (logging each), and keeps a connection whose request
it answered while the sender still trickles the unread body. The protocol built here, on
uvicorn's httptools protocol, instead:

- closes a connection whose request headers have not all come within `read_timeout` of its
  opening or of the request's first byte (an idle keep-alive connection: uvicorn's keep_alive),
  or whose headers pass 64 KiB;
- keeps at most `max_connections` open: a new connection past the bound closes the oldest one
  waiting for a request (idle keep-alive, or headers still trickling), as nginx reuses its idle
  keep-alive connections when it runs out; if none waits, the new one is closed at once;
- lets at most three quarters of them be mid-request, so there is always room for new ones: a
  request past that is answered 503 with Retry-After, except /healthz, which always answers;
- reads and drops the rest of a body it answered without reading, closing the connection if
  that has not come within `read_timeout`.

A request's body has its own deadline in api.limits.BodyLimit (408). Closing connections is
counted in tocsin_bridge_connections_closed_total and logged at most once a minute.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tocsin.bridge.platform.metrics import Metrics

log = logging.getLogger("tocsin.bridge")
# Descriptors a bridge holds besides its connections (database pool, logs, epoll, pipes),
# with room to spare: 25 measured on SQLite (1,025 open with 1,000 connections).
RESERVED_FDS = 100
FD_SHARE = 0.8
WARN_EVERY = 60.0
HEALTH = b"/healthz"
MAX_HEADER_BYTES = 64 * 1024


def connection_budget(
    max_connections: int,
    getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
    setrlimit: Callable[[int, tuple[int, int]], None] = resource.setrlimit,
) -> int:
    """Raise the soft open-files limit to the hard one; return the connections that fit in 80 %.

    systemd starts services with a soft limit of 1024 and a far higher hard one, expecting a
    program that needs more (and uses epoll, not select) to raise its own.
    """
    soft, hard = getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft == resource.RLIM_INFINITY:
        return max_connections
    fits = max(1, int(soft * FD_SHARE) - RESERVED_FDS)
    if max_connections > fits:
        log.warning(
            "limits.max_connections %d does not fit in 80 %% of this process's open-files "
            "limit (%d); serving at most %d connections (raise LimitNOFILE= to allow more)",
            max_connections,
            soft,
            fits,
        )
        return fits
    return max_connections


class Guard:
    """The state all connections share: who waits for a request, oldest first, and the counts."""

    def __init__(
        self, metrics: Metrics, *, max_connections: int, read_timeout: float, retry_after: int
    ) -> None:
        self.max_connections = max_connections
        self.max_requests = max(1, max_connections * 3 // 4)
        self.read_timeout = read_timeout
        self.retry_after = retry_after
        self.open = 0
        self.leaving: set[HttpToolsProtocol] = set()  # closed to make room, not yet gone
        self.waiting: dict[HttpToolsProtocol, None] = {}  # insertion order: oldest first
        self.closed = Counter(
            "tocsin_bridge_connections_closed",
            "Connections the bridge closed to hold its ground, by reason (header_timeout, "
            "evicted: the oldest waiting one at max_connections, refused: none could give way, "
            "body_unread: the rest of a body answered unread never came, headers_too_large).",
            ["reason"],
            registry=metrics.registry,
        )
        self.refused_requests = metrics.requests_rejected.labels(reason="unavailable")
        Gauge(
            "tocsin_bridge_connections_open",
            "HTTP connections open now.",
            registry=metrics.registry,
        ).set_function(lambda: self.open)
        self._warned = -WARN_EVERY

    def busy(self) -> int:
        """Return how many connections are mid-request."""
        return self.open - len(self.waiting) - len(self.leaving)

    def make_room(self, newcomer: HttpToolsProtocol) -> None:
        """Close the oldest connection waiting for a request if `newcomer` is one too many.

        The newcomer itself is closed if every other connection is mid-request.
        """
        if self.open - len(self.leaving) <= self.max_connections:
            return
        self.warn(f"{self.max_connections} connections open (limits.max_connections)")
        oldest = next((waiting for waiting in self.waiting if waiting is not newcomer), newcomer)
        self.closed.labels(reason="refused" if oldest is newcomer else "evicted").inc()
        self.waiting.pop(oldest, None)
        self.leaving.add(oldest)
        oldest.transport.close()

    def warn(self, what: str) -> None:
        """Log why connections are being closed or refused, at most once a minute."""
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            log.warning("%s: closing the oldest idle connections, answering 503 past it", what)

    async def refuse(self, scope: Any, receive: Any, send: Any) -> None:
        """Answer a request past the bound on requests in hand: 503, Retry-After, close."""
        self.refused_requests.inc()
        self.warn(f"{self.busy()} requests in hand (3/4 of limits.max_connections)")
        body = json.dumps(
            {"error": "server busy: too many requests in hand (limits.max_connections); retry"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(self.retry_after).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def guarded_protocol(guard: Guard) -> type[asyncio.Protocol]:
    """Return uvicorn's httptools protocol bound by `guard` (see the module docstring)."""

    class Guarded(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _header_bytes = 0
        _draining = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            guard.open += 1
            guard.waiting[self] = None
            self._arm()
            guard.make_room(self)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            guard.open -= 1
            guard.waiting.pop(self, None)
            guard.leaving.discard(self)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = 0
            self._arm()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            self._count(len(url))

        def on_header(self, name: bytes, value: bytes) -> None:
            super().on_header(name, value)
            self._count(len(name) + len(value))

        def _count(self, size: int) -> None:
            self._header_bytes += size
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                guard.closed.labels(reason="headers_too_large").inc()
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._disarm()
            guard.waiting.pop(self, None)
            if guard.busy() <= guard.max_requests or self.url.startswith(HEALTH):
                super().on_headers_complete()
                return
            app, self.app = self.app, guard.refuse
            try:
                super().on_headers_complete()
            finally:
                self.app = app

        def on_response_complete(self) -> None:
            pipelined = bool(self.pipeline)  # the next request's headers are in: still busy
            super().on_response_complete()
            if pipelined or self.transport.is_closing():
                return
            guard.waiting[self] = None
            if self.cycle is not None and self.cycle.more_body:
                # Read the rest and drop it, within the deadline: closing now would reset the
                # connection under a sender still writing, which then never reads the answer.
                self._draining = True
                self._arm("body_unread")

        def on_message_complete(self) -> None:
            super().on_message_complete()
            if self._draining:
                self._draining = False
                self._arm()  # the next request's headers, or the connection closes

        def _arm(self, reason: str = "header_timeout") -> None:
            self._disarm()
            self._deadline = self.loop.call_later(guard.read_timeout, self._expire, reason)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self, reason: str) -> None:
            self._deadline = None
            guard.closed.labels(reason=reason).inc()
            self.transport.close()

    return Guarded

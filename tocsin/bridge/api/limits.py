"""Bounds on what a request may cost: its body's size and time, and ingest work in hand.

BodyLimit refuses a body over the configured size with 413 (before or while it arrives) and one
that has not arrived within the body timeout with 408. IngestGate keeps ingest work bounded: a
sender hears 503 with Retry-After at once past the bound, or when its work took too long, and
the work of a sender that hung up is dropped if no transaction took it yet.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.bridge.errors import BodyTimeout, Overloaded, PayloadTooLarge
from tocsin.bridge.platform import memory
from tocsin.bridge.platform.metrics import Metrics

T = TypeVar("T")
# Messages read while waiting for a sender to hang up: only a disconnect is expected.
_WATCH_MESSAGES = 100
IDLE_SECONDS = 5.0  # nothing in hand this long: the burst is over


class BodyLimit:
    """ASGI middleware: 413 on a Content-Length over the limit, or once a stream passes it."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, send)
            return
        seen = 0
        complete = False
        deadline = asyncio.get_running_loop().time() + self.timeout

        async def limited() -> Message:
            nonlocal seen, complete
            if complete:  # the body is in: what comes now is the end of the connection
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(
                    f"request body not received within {self.timeout:g}s (limits.read_timeout)"
                ) from None
            complete = not message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request body over {self.max_bytes} bytes (limits.max_body_bytes); send smaller batches"

    async def _refuse(self, scope: Scope, send: Send) -> None:
        app = scope.get("app")
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if runtime is not None:
            runtime.metrics.requests_rejected.labels(reason="too_large").inc()
        body = json.dumps({"error": self._message()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class IngestGate:
    """Take ingest requests up to `max_requests` at once; run their work on the gate's threads.

    A request past the bound, or arriving while the store's queue is full, is refused before
    its body is read. Admitted work runs on a pool of exactly that many threads, so it never
    queues without bound on the server's shared pool (where /readyz and the board run). The
    work gets an event that is set once nobody waits for it (its sender hung up, or `timeout`
    passed and it was answered 503); the store then drops it if no transaction took it yet.

    Once a burst is over (nothing in hand for `idle` seconds) the pool's threads end and a fresh
    pool takes their place, and freed memory goes back to the system: a burst's threads and
    heap do not stay resident until the next one.
    """

    def __init__(
        self,
        metrics: Metrics,
        *,
        max_requests: int,
        timeout: float,
        retry_after: int,
        refusal: Callable[[], Overloaded | None] = lambda: None,
        idle: float = IDLE_SECONDS,
    ) -> None:
        self.metrics = metrics
        self.refusal = refusal  # the store's: why new work would be refused now, if it would
        self.max_requests = max_requests
        self.timeout = timeout
        self.retry_after = retry_after
        self.in_hand = 0  # touched on the event loop's thread only
        self._executor = ThreadPoolExecutor(max_requests, thread_name_prefix="ingest")
        self._used = False  # work ran since the pool was last renewed
        self.idle = idle
        self._idle: asyncio.TimerHandle | None = None
        self.renewals = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Hold one of the gate's places for the block (and for its work, until that ends)."""
        if self.in_hand >= self.max_requests:
            self.shed("in_flight")
            raise Overloaded(
                f"{self.in_hand} ingest requests in hand (limits.max_ingest_requests); retry",
                self.retry_after,
            )
        refused = self.refusal()
        if refused is not None:
            self.shed(refused.reason)
            raise refused
        self.in_hand += 1
        self.metrics.ingest_in_flight.inc()
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        slot = Slot(self)
        try:
            yield slot
        finally:
            if slot.future is None:
                self.release()

    def shed(self, reason: str) -> None:
        """Count a request answered 503 to keep answers fast."""
        self.metrics.ingest_shed.labels(reason=reason).inc()

    def release(self, _future: Any = None) -> None:
        """Give a place back (its work is over)."""
        if _future is not None and not _future.cancelled():
            _future.exception()  # retrieved: work that outlived its request may have failed
        self.in_hand -= 1
        self.metrics.ingest_in_flight.dec()
        if self.in_hand == 0 and self._used and self._idle is None:
            self._idle = asyncio.get_running_loop().call_later(self.idle, self._renew)

    def executor(self) -> ThreadPoolExecutor:
        """Return the pool admitted work runs on (noting that work ran)."""
        self._used = True
        return self._executor

    def _renew(self) -> None:
        """End the burst's threads, start a fresh pool and hand freed memory back."""
        self._idle = None
        if self.in_hand:
            return
        old, self._executor = (
            self._executor,
            ThreadPoolExecutor(self.max_requests, thread_name_prefix="ingest"),
        )
        old.shutdown(wait=False)
        self._used = False
        self.renewals += 1
        gc.collect()
        memory.trim()

    def close(self) -> None:
        """Stop the gate's threads once their work is done (at shutdown)."""
        if self._idle is not None:
            self._idle.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


class Slot:
    """One admitted request's place in the gate."""

    def __init__(self, gate: IngestGate) -> None:
        self.gate = gate
        self.future: asyncio.Future[Any] | None = None

    async def run(self, request: Request, work: Callable[[threading.Event], T]) -> T:
        """Run `work` on the gate's threads; 503 if it is not done in time or the sender left."""
        gate = self.gate
        abandoned = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(gate.executor(), work, abandoned)
        self.future = future
        future.add_done_callback(gate.release)
        gone = asyncio.ensure_future(_hung_up(request.receive))
        try:
            await asyncio.wait((future, gone), timeout=gate.timeout, return_when="FIRST_COMPLETED")
        finally:
            gone.cancel()
        if future.done():
            try:
                return future.result()
            except Overloaded as exc:
                gate.shed(exc.reason)
                raise
        abandoned.set()
        if gone.done() and not gone.cancelled() and gone.exception() is None:
            gate.shed("gone")
            raise Overloaded("the sender went away", gate.retry_after, "gone")
        gate.shed("request_timeout")
        raise Overloaded(
            f"not committed within {gate.timeout:g}s (limits.request_timeout); retry",
            gate.retry_after,
            "request_timeout",
        )


async def _hung_up(receive: Receive) -> None:
    """Return once the sender disconnects (its body is already read)."""
    for _ in range(_WATCH_MESSAGES):
        if (await receive())["type"] == "http.disconnect":
            return
    await asyncio.Event().wait()  # a stream of empty messages is no hang-up: wait to be cancelled

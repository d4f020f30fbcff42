"""Unauthenticated probes: /healthz (process up), /readyz (database and schema), /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tocsin.bridge import migrations
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import StoreUnavailable
from tocsin.bridge.store.db import Store

# A load balancer's probe gets its answer within this, however the database fares.
READY_TIMEOUT = 2.0
router = APIRouter(tags=["health"])


class Readiness:
    """Check the database on a thread of its own, one check at a time, answering in time.

    A check still running when the next probe comes is a failure: probes never pile threads
    onto a database that does not answer.
    """

    def __init__(self, check: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
        self.check = check
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="readyz")
        self._running: asyncio.Future[bool] | None = None

    @classmethod
    def of(cls, store: Store) -> Readiness:
        """Return the readiness of `store`: it answers and its schema is current."""
        return cls(lambda: migrations.is_current(store))

    async def probe(self) -> bool:
        """Return whether the schema is current; StoreUnavailable if the database did not answer."""
        if self._running is not None and not self._running.done():
            raise StoreUnavailable(
                f"database did not answer the last check within {self.timeout:g}s"
            )
        running = asyncio.get_running_loop().run_in_executor(self._executor, self.check)
        running.add_done_callback(_retrieve)
        self._running = running
        try:
            return await asyncio.wait_for(asyncio.shield(running), self.timeout)
        except TimeoutError:
            raise StoreUnavailable(f"database did not answer within {self.timeout:g}s") from None

    def close(self) -> None:
        """Stop the check's thread once it is done (at shutdown)."""
        self._executor.shutdown(wait=False)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # a check that outlived its probe may have failed: nobody waits for it


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 when the database answers in time and its schema is at the code's revision."""
    readiness: Readiness = request.app.state.readiness
    try:
        current = await readiness.probe()
    except StoreUnavailable as exc:
        return JSONResponse(
            {"status": "unavailable", "error": exc.message},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if not current:
        return JSONResponse(
            {
                "status": "unavailable",
                "error": "database schema is not current: run tocsin-bridge migrate",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def metrics(runtime: RuntimeDep) -> Response:
    """Expose the bridge's metrics in the Prometheus text format."""
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

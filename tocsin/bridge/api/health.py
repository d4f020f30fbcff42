"""Unauthenticated probes: /healthz (process up), /readyz (database and schema), /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tocsin.bridge import migrations
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import StoreUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Answer 200 when the database answers and its schema is at the code's revision."""
    try:
        current = migrations.is_current(runtime.store)
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

"""Build the FastAPI application around a runtime; no globals, so tests build as many as they like."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from tocsin.bridge.api import errors
from tocsin.bridge.api.limits import BodyLimit, IngestGate
from tocsin.bridge.api.shortcut import Shortcut
from tocsin.bridge.runtime import Runtime


def create_app(runtime: Runtime, *, start_workers: bool = True) -> FastAPI:
    """Return the app serving the API over `runtime`; workers run for the app's lifespan."""

    from tocsin.bridge.api.health import Readiness

    limits = runtime.config.limits
    readiness = Readiness.of(runtime.store)
    gate = IngestGate(
        runtime.metrics,
        max_requests=limits.max_ingest_requests,
        timeout=limits.request_timeout,
        retry_after=limits.retry_after,
        refusal=runtime.store.refusal,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_workers:
            await run_in_threadpool(runtime.start)
        try:
            yield
        finally:
            gate.close()
            readiness.close()
            if start_workers:
                await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="tocsin-bridge",
        version="1",
        lifespan=lifespan,
        # Served by web.apidocs behind sign-in or a token, not publicly by FastAPI.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.ingest_gate = gate
    app.state.readiness = readiness
    errors.install(app)
    from tocsin.bridge.api import health, incidents, ingest

    # Inside the body limit: the shortcut's endpoints read bodies through it, as routes do.
    app.add_middleware(Shortcut, routes=ingest.SHORTCUTS)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, timeout=limits.read_timeout)
    from tocsin.bridge.web import apidocs
    from tocsin.bridge.web import router as web_router

    app.include_router(health.router)
    app.include_router(ingest.router)
    app.include_router(incidents.router)
    from tocsin.bridge.api import maintenance as maintenance_api

    app.include_router(maintenance_api.router)
    app.include_router(web_router)
    app.include_router(apidocs.router)
    from tocsin.bridge.api import reports as reports_api

    app.include_router(reports_api.router)
    from tocsin.bridge.api import kb as kb_api

    app.include_router(kb_api.router)
    from tocsin.bridge.web.reports_page import router as reports_page

    app.include_router(reports_page)
    from tocsin.bridge.api import oncall, outbox, phone, phone_push, tokens
    from tocsin.bridge.web import ack

    app.include_router(ack.router)
    app.include_router(outbox.router)
    app.include_router(oncall.router)
    app.include_router(phone.router)
    app.include_router(phone_push.router)
    app.include_router(tokens.router)
    return app

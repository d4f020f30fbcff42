"""Turn every refusal into a JSON answer (an HTML page for a browser off the API); never a 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from tocsin.bridge.errors import (
    AuthError,
    BodyTimeout,
    BridgeError,
    Forbidden,
    PayloadTooLarge,
    StoreUnavailable,
    Throttled,
)

log = logging.getLogger(__name__)


def reason_for(status: int, exc: BaseException | None = None) -> str:
    """Return the `reason` label of tocsin_bridge_requests_rejected_total for a status."""
    if isinstance(exc, Forbidden) or status == 403:
        return "forbidden"
    if isinstance(exc, AuthError) or status == 401:
        return "auth"
    return {
        413: "too_large",
        429: "throttled",
        503: "unavailable",
        404: "not_found",
        409: "conflict",
    }.get(status, "invalid" if 400 <= status < 500 else "error")


def error_response(
    request: Request,
    status: int,
    message: str,
    exc: BaseException | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """Build the JSON error answer and count the refusal."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.metrics.requests_rejected.labels(reason=reason_for(status, exc)).inc()
    headers = {}
    if isinstance(exc, StoreUnavailable | Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, (BodyTimeout, PayloadTooLarge)):
        headers["Connection"] = "close"  # the rest of the body is unread: the connection is done
    body = {"error": message, **{k: v for k, v in (extra or {}).items() if v is not None}}
    return _EchoingJSON(body, status_code=status, headers=headers)


class _EchoingJSON(JSONResponse):
    """JSON that may echo a sender's text: lone surrogates go out as \\u escapes, not a 500."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def _field(loc: Sequence[object]) -> str:
    """Name the field of a validation error: its path inside the body, or "body" for the whole."""
    return ".".join(str(part) for part in loc if part != "body") or ".".join(map(str, loc[:1]))


def bridge_error_response(request: Request, exc: BridgeError) -> JSONResponse:
    """Answer a refusal of the bridge's own with its status and message, naming the field."""
    if exc.http_status >= 500 and not isinstance(exc, StoreUnavailable):
        log.error("%s", exc.message)
    extra = {"field": getattr(exc, "field", None), "needed_role": getattr(exc, "needed_role", None)}
    response = error_response(request, exc.http_status, exc.message, exc, extra)
    forget_traceback(exc)
    return response


def forget_traceback(exc: BaseException | None) -> None:
    """Drop the tracebacks of an answered refusal and of the errors that led to it.

    A traceback holds the frames it passed, and a frame often holds the exception again (the
    future that carried it, the job that failed): a cycle that keeps the request's frames and
    its alerts alive until a garbage collection finds them. Under a burst answered with 503s
    that was 75,000 objects a second, and a third of the process's time went on collecting.
    """
    while exc is not None:
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__


def invalid_response(request: Request, problems: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """Answer a body that failed validation: 400 if it is not JSON, else 422, naming the field."""
    errors = [
        {"field": _field(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in problems
    ]
    malformed = any(err.get("type") == "json_invalid" for err in problems)
    status = 400 if malformed else 422
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return error_response(
        request, status, message, None, {"field": first["field"] or None, "errors": errors}
    )


def install(app: FastAPI) -> None:
    """Register the bridge's exception handlers on an app."""

    @app.exception_handler(BridgeError)
    async def _bridge_error(request: Request, exc: BridgeError) -> JSONResponse:
        return bridge_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_response(request, exc.errors())

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if _browser_page(request):
            return _html_error(request, exc.status_code, str(exc.detail))
        return error_response(request, exc.status_code, str(exc.detail))


def _browser_page(request: Request) -> bool:
    """Tell whether a browser asked for a page (not the API): it gets HTML, not JSON."""
    path = request.url.path
    wanted = "text/html" in request.headers.get("accept", "")
    return (
        wanted and not path.startswith("/api/") and path not in ("/metrics", "/healthz", "/readyz")
    )


def _html_error(request: Request, status: int, reason: str) -> HTMLResponse:
    """A bare error page for a URL no page answers, linking back to the board."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.metrics.requests_rejected.labels(reason=reason_for(status)).inc()
    title = f"{status} {escape(reason)}"
    body = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title} · Tocsin</title>'
        f'</head><body><h1>{title}</h1><p><a href="/">Tocsin</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"X-Content-Type-Options": "nosniff"})

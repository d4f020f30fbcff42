"""The API's description, /openapi.json and /docs: for a signed-in person or a token, never public.

A browser signed in to the board reads both with its session; a script sends a bearer token, as
to every other route. Without either, /openapi.json answers 401 and /docs leads to the login.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response

from tocsin.bridge.api.auth import authenticate
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.web.visitor import LoginRequired, Visitor, VisitorDep, web_router

router = web_router()
OPENAPI = "/openapi.json"


def _admit(request: Request, runtime: RuntimeDep, who: Visitor) -> None:
    """Let a signed-in visitor pass, else require a valid bearer token (401 without)."""
    if who.operator is None:
        authenticate(request, runtime)


@router.get(OPENAPI)
def openapi(request: Request, runtime: RuntimeDep, who: VisitorDep) -> Response:
    _admit(request, runtime, who)
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs(request: Request, runtime: RuntimeDep, who: VisitorDep) -> Response:
    if who.operator is None and "authorization" not in request.headers:
        raise LoginRequired("/docs")
    _admit(request, runtime, who)
    return get_swagger_ui_html(openapi_url=OPENAPI, title="tocsin-bridge API")

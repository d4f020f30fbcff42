"""Send requests for a few hot routes straight to their endpoints, past FastAPI's routing.

Every sender's every alert (and every resend) is a POST to one of two routes, and every agent's
heartbeat a POST to a third (a 20,000-agent fleet sends 670 a second). Their endpoints take the
Request, check their own bodies and return a Response themselves, with no dependencies to solve,
so FastAPI's routing and request handling only add cost: 0.4 ms of CPU a request
through them, 0.1 ms through this middleware (a request of a new alert costs about 2 ms in all).
The routes stay declared on the app, which describes them in OpenAPI and answers anything this
middleware passes on (another method, another path). The bridge's own refusals are answered as
the app's exception handler answers them; anything else goes up to the server-error handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.bridge.api.errors import bridge_error_response
from tocsin.bridge.errors import BridgeError

Endpoint = Callable[[Request], Awaitable[Response]]


class Shortcut:
    """ASGI middleware: (method, path) pairs listed in `routes` go to their endpoint directly."""

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http":
            endpoint = self.routes.get((scope["method"], scope["path"]))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except BridgeError as exc:
            response = bridge_error_response(request, exc)
        await response(scope, receive, send)

"""Who is looking at a page: their session and role, language and the time the page is rendered at."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from tocsin.bridge.accounts import roles
from tocsin.bridge.web.context import WebContext, web_context
from tocsin.bridge.web.i18n import LANGUAGE_COOKIE, choose_language
from tocsin.bridge.web.session import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Session,
    decode_session,
    encode_session,
    new_session,
)


@dataclass(frozen=True)
class Visitor:
    """The request's session (fresh ones must be sent back as a cookie), language and now."""

    session: Session
    language: str
    now: datetime
    context: WebContext
    secure: bool
    fresh: bool = False
    role: str | None = None  # None until signed in

    @property
    def operator(self) -> str | None:
        return self.session.operator

    def may(self, permission: str) -> bool:
        """Return whether the signed-in person's role holds `permission`."""
        return roles.allows(self.role, permission)

    def with_session(self, session: Session, role: str | None = None) -> Visitor:
        """Return the visitor with a replaced session, to be written on the response."""
        return Visitor(
            session, self.language, self.now, self.context, self.secure, fresh=True, role=role
        )

    def write_cookie(self, response: Response) -> None:
        """Send the session cookie if it changed: HttpOnly, SameSite=Lax, Secure over HTTPS."""
        if not self.fresh:
            return
        response.set_cookie(
            SESSION_COOKIE,
            encode_session(self.session, self.context.secret_key),
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )


def is_secure(request: Request, context: WebContext) -> bool:
    """Return whether cookies need the Secure flag: HTTPS here or at the public URL."""
    return request.url.scheme == "https" or context.public_url.startswith("https://")


def visitor(request: Request, context: Annotated[WebContext, Depends(web_context)]) -> Visitor:
    """Read the session cookie, starting an anonymous session when there is no valid one."""
    now = context.clock()
    language = choose_language(
        request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    secure = is_secure(request, context)
    session = decode_session(request.cookies.get(SESSION_COOKIE), context.secret_key, now)
    role = None
    if session is not None and session.operator is not None:
        role = context.session_role(session)
        if role is None:
            session = None  # signed out, expired, revoked, or its token was rotated
    if session is None:
        return Visitor(new_session(now), language, now, context, secure, fresh=True)
    return Visitor(session, language, now, context, secure, role=role)


VisitorDep = Annotated[Visitor, Depends(visitor)]


class LoginRequired(Exception):
    """Raised for a visitor without a session; WebRoute answers it with a redirect to login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.location = f"/login?next={quote(next_path)}"


class PageForbidden(Exception):
    """Raised for a signed-in visitor whose role lacks a page's permission; answered with 403."""

    def __init__(self, who: Visitor, permission: str) -> None:
        super().__init__(permission)
        self.who = who
        self.permission = permission


class WebRoute(APIRoute):
    """A page route: LoginRequired becomes 303 to the login page, PageForbidden a 403 page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return RedirectResponse(exc.location, status_code=303)
            except PageForbidden as exc:
                from tocsin.bridge.web.render import forbidden_page

                return forbidden_page(request, exc.who, exc.permission)

        return route


def web_router() -> APIRouter:
    """Return a router for pages behind the login (the reports page uses one too)."""
    return APIRouter(include_in_schema=False, route_class=WebRoute)


def require_operator(request: Request, who: VisitorDep) -> Visitor:
    """Dependency for every page behind the login: the visitor, known to be an operator."""
    if who.operator is None:
        target = request.url.path if request.method == "GET" else "/"
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target)
    return who


def require(permission: str) -> Callable[[Request, Visitor], Visitor]:
    """Return a dependency for pages needing `permission`: login first, then a 403 page."""

    def dependency(request: Request, who: VisitorDep) -> Visitor:
        require_operator(request, who)
        if not who.may(permission):
            raise PageForbidden(who, permission)
        return who

    return dependency


# For pages any signed-in person may open (their account, signing out, incident actions that
# check the action's own permission): `def page(request: Request, who: OperatorDep) -> Response`.
OperatorDep = Annotated[Visitor, Depends(require_operator)]
ReaderDep = Annotated[Visitor, Depends(require("read"))]
RegistrarDep = Annotated[Visitor, Depends(require("register"))]
ManagerDep = Annotated[Visitor, Depends(require("manage"))]
AdminDep = Annotated[Visitor, Depends(require("administer"))]

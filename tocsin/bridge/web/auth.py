"""Sign in with a password or a shared token, sign out, switch language, serve the static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from tocsin.bridge.errors import AuthError, Throttled
from tocsin.bridge.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from tocsin.bridge.web.render import page, secure_headers
from tocsin.bridge.web.session import CSRF_FIELD, Session, csrf_matches, new_session
from tocsin.bridge.web.visitor import Visitor, VisitorDep, web_router

router = web_router()

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "board.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
MAX_TOKEN_LENGTH = 512


def safe_next(target: str | None) -> str:
    """Return a local path to go to after login; anything else (another site) becomes '/'."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def redirect(who: Visitor, location: str) -> Response:
    """Answer 303 See Other, writing the session cookie if it changed."""
    response = RedirectResponse(location, status_code=303)
    who.write_cookie(response)
    return secure_headers(response)


async def checked_form(request: Request, who: Visitor) -> FormData | None:
    """Return the posted form if its CSRF token matches the session, else None."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if who.fresh or not csrf_matches(
        who.session, submitted if isinstance(submitted, str) else None
    ):
        return None
    return form


def csrf_refused(request: Request, who: Visitor) -> Response:
    """The page for a form without a valid CSRF token: nothing was changed."""
    return page(request, who, "error.html", {"message_key": "error.csrf"}, status_code=403)


def client_address(request: Request) -> str | None:
    """Return the peer's address, the key failed sign-ins are counted under besides the name."""
    return request.client.host if request.client is not None else None


def login_page(
    request: Request, who: Visitor, next_path: str, failed: str | None = None, **values: Any
) -> Response:
    """Render the sign-in form, with a refusal (a message key) when one is due."""
    status = {None: 200, "login.throttled": 429}.get(failed, 401)
    context = {
        "next": next_path,
        "failed": failed,
        "values": values,
        "sso": who.context.sso_enabled,
    }
    return page(request, who, "login.html", context, status_code=status)


@router.get("/login")
def login_form(request: Request, who: VisitorDep, next: str = "/", sso_error: str = "") -> Response:
    if sso_error:
        return login_page(request, who, safe_next(next), "login.sso_failed", reason=sso_error[:200])
    return login_page(request, who, safe_next(next))


def _token_session(who: Visitor, token: str, address: str | None) -> Session:
    accounts = who.context.accounts
    accounts.guard("token", None, address)
    operator = who.context.operator_for(token) if 0 < len(token) <= MAX_TOKEN_LENGTH else None
    if operator is None:
        accounts.failed("token", None, address, "not an operator token")
        raise AuthError("not an operator token")
    accounts.succeeded("token", operator)
    sid = accounts.open_session(operator, "token", address)
    return new_session(who.now, operator, who.context.token_tag_for(operator), sid)


@router.post("/login")
async def login(request: Request, who: VisitorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    next_path = safe_next(str(form.get("next") or "/"))
    address = client_address(request)
    token = str(form.get("token") or "")
    try:
        if token:
            session = _token_session(who, token, address)
        else:
            name = str(form.get("name") or "").strip()
            sid = who.context.accounts.sign_in(name, str(form.get("password") or ""), address)
            session = new_session(who.now, name, None, sid)
    except Throttled as exc:
        return login_page(request, who, next_path, "login.throttled", seconds=exc.retry_after)
    except AuthError:
        return login_page(request, who, next_path, "login.failed" if token else "login.wrong")
    # A new CSRF token at login: one planted before sign-in is worth nothing after it.
    return signed_in(who, session, next_path)


def signed_in(who: Visitor, session: Session, next_path: str) -> Response:
    """Send a freshly signed-in visitor on, with the new session's cookie."""
    return redirect(who.with_session(session, who.context.session_role(session)), next_path)


@router.post("/logout")
async def logout(request: Request, who: VisitorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    if who.session.sid is not None:
        who.context.accounts.sign_out(who.session.sid)
    return redirect(who.with_session(new_session(who.now)), "/login")


@router.get("/lang/{language}")
def switch_language(language: str, request: Request, who: VisitorDep, next: str = "/") -> Response:
    """Remember a language choice; a preference, so a plain link may set it."""
    response = redirect(who, safe_next(next))
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=365 * 86400,
            path="/",
            samesite="lax",
            secure=who.secure,
            httponly=True,
        )
    return response


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    """Serve one of the board's own files, by name from a fixed list."""
    if name not in STATIC_FILES:
        return secure_headers(Response(status_code=404))
    response = FileResponse(STATIC / name, media_type=STATIC_FILES[name])
    response.headers["Cache-Control"] = "public, max-age=300"
    return secure_headers(response, cache=True)

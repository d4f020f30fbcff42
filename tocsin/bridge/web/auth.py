"""Sign in with an operator token, sign out, switch language, serve the static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from tocsin.bridge.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from tocsin.bridge.web.render import page, secure_headers
from tocsin.bridge.web.session import CSRF_FIELD, csrf_matches, new_session
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


@router.get("/login")
def login_form(request: Request, who: VisitorDep, next: str = "/") -> Response:
    return page(request, who, "login.html", {"next": safe_next(next), "failed": False})


@router.post("/login")
async def login(request: Request, who: VisitorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    next_path = safe_next(str(form.get("next") or "/"))
    token = str(form.get("token") or "")
    operator = who.context.operator_for(token) if 0 < len(token) <= MAX_TOKEN_LENGTH else None
    if operator is None:
        context = {"next": next_path, "failed": True}
        return page(request, who, "login.html", context, status_code=401)
    # A new CSRF token at login: one planted before sign-in is worth nothing after it.
    session = new_session(who.now, operator, who.context.token_tag_for(operator))
    return redirect(who.with_session(session), next_path)


@router.post("/logout")
async def logout(request: Request, who: VisitorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
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

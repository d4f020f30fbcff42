"""Single sign-on pages: send the browser to the OpenID Connect provider and take its answer."""

from __future__ import annotations

import time
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from tocsin.bridge.accounts.oidc import Pending, SsoFailed, person_and_role
from tocsin.bridge.errors import AuthError, Throttled
from tocsin.bridge.web.auth import client_address, redirect, safe_next, signed_in
from tocsin.bridge.web.render import page, secure_headers
from tocsin.bridge.web.session import decode_signed, encode_signed, new_session
from tocsin.bridge.web.visitor import Visitor, VisitorDep, web_router

router = web_router()
SSO_COOKIE = "tocsin_sso"
PURPOSE = b"sso-pending"
PENDING_SECONDS = 600  # a sign-in left at the provider longer than this starts again


def _no_sso(request: Request, who: Visitor) -> Response:
    context = {"message_key": "login.sso_failed", "values": {"reason": "not configured"}}
    return page(request, who, "error.html", context, status_code=404)


@router.get("/sso/login")
def sso_login(request: Request, who: VisitorDep, next: str = "/") -> Response:
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
    sso = who.context.sso
    if sso is None:
        return _no_sso(request, who)
    try:
        url, pending = sso.start(safe_next(next))
    except SsoFailed as exc:
        who.context.accounts.failed("oidc", None, client_address(request), exc.message)
        return redirect(who, f"/login?sso_error={quote(exc.message)}")
    response = RedirectResponse(url, status_code=303)
    payload = {
        "s": pending.state,
        "n": pending.nonce,
        "v": pending.verifier,
        "x": pending.next_path,
        "e": time.time() + PENDING_SECONDS,
    }
    response.set_cookie(
        SSO_COOKIE,
        encode_signed(payload, who.context.secret_key, PURPOSE),
        max_age=PENDING_SECONDS,
        path="/sso",
        httponly=True,
        samesite="lax",  # the provider's answer is a top-level navigation: Lax cookies come along
        secure=who.secure,
    )
    who.write_cookie(response)
    return secure_headers(response)


def _pending(request: Request, who: Visitor) -> Pending | None:
    data = decode_signed(request.cookies.get(SSO_COOKIE), who.context.secret_key, PURPOSE)
    if data is None or not isinstance(data.get("e"), float | int) or float(data["e"]) < time.time():  # type: ignore[arg-type]
        return None
    values = [data.get(key) for key in ("s", "n", "v", "x")]
    if not all(isinstance(value, str) for value in values):
        return None
    return Pending(*(str(value) for value in values))


@router.get("/sso/callback")
def sso_callback(
    request: Request, who: VisitorDep, code: str = "", state: str = "", error: str = ""
) -> Response:
    """Take the provider's answer: verify it, find the person, and sign them in."""
    sso = who.context.sso
    if sso is None:
        return _no_sso(request, who)
    accounts = who.context.accounts
    address = client_address(request)
    pending = _pending(request, who)
    try:
        accounts.guard("oidc", None, address)
        if error:
            raise SsoFailed(f"the provider answered {error[:60]!r}")
        if pending is None or not code:
            raise SsoFailed("the sign-in expired or was not started here; start it again")
        claims = sso.finish(pending, code[:2000], state[:200])
        name, role = person_and_role(claims, sso.settings)
        sid = accounts.sso_sign_in(name, role, sso.settings.add_people, address)
    except (Throttled, AuthError) as exc:
        if isinstance(exc, SsoFailed):
            accounts.failed("oidc", None, address, exc.message)
        response = redirect(who, f"/login?sso_error={quote(exc.message[:200])}")
    else:
        row = accounts.session(sid)  # the person's own name, found by name or by email
        session = new_session(who.now, row.name if row else name, None, sid)
        response = signed_in(who, session, pending.next_path if pending else "/")
    response.delete_cookie(SSO_COOKIE, path="/sso")
    return response

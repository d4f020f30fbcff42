"""A person's own account page (sessions, sign out everywhere, password) and invite links."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tocsin.bridge.accounts.passwords import MIN_LENGTH
from tocsin.bridge.errors import AuthError, BridgeError, InvalidInput, Throttled
from tocsin.bridge.web.auth import checked_form, client_address, csrf_refused, redirect
from tocsin.bridge.web.render import page
from tocsin.bridge.web.session import new_session
from tocsin.bridge.web.visitor import OperatorDep, Visitor, VisitorDep, web_router

router = web_router()


def account_page(
    request: Request, who: Visitor, notice: str | None = None, error: str | None = None, **more: Any
) -> Response:
    """Render the account page with an optional notice or refusal (message keys)."""
    assert who.operator is not None
    accounts = who.context.accounts
    account = accounts.find(who.operator)
    current = accounts.session(who.session.sid) if who.session.sid else None
    context = {
        "account": account,
        "role": who.role,
        "sessions": accounts.sessions_of(who.operator),
        "tokens": accounts.tokens(who.operator) if account is not None else [],
        "new_token": None,
        "current_id": current.id if current else None,
        "notice": notice,
        "error": error,
        "min_length": MIN_LENGTH,
        **more,
    }
    status = 200 if error is None else 422
    return page(request, who, "account.html", context, status_code=status)


@router.get("/account")
def account(request: Request, who: OperatorDep) -> Response:
    changed = request.query_params.get("notice") == "password"
    return account_page(request, who, "account.password_changed" if changed else None)


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(request: Request, who: OperatorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    assert who.operator is not None
    who.context.accounts.sign_out_everywhere(who.operator)
    return redirect(who.with_session(new_session(who.now)), "/login")


@router.post("/account/password")
async def change_password(request: Request, who: OperatorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    assert who.operator is not None
    accounts = who.context.accounts
    new, again = str(form.get("new_password") or ""), str(form.get("repeat_password") or "")
    if new != again:
        return account_page(request, who, error="account.password_mismatch")
    if len(new) < MIN_LENGTH:
        return account_page(request, who, error="account.password_short")
    address = client_address(request)
    try:
        # Proves it is them, not someone at an unlocked screen; throttled like any sign-in.
        accounts.check_password(who.operator, str(form.get("current_password") or ""), address)
        accounts.set_password(who.operator, new)
        sid = accounts.open_session(who.operator, "password", address)
    except Throttled as exc:
        return account_page(request, who, error="login.throttled", seconds=exc.retry_after)
    except AuthError:
        return account_page(request, who, error="account.password_wrong")
    except BridgeError as exc:
        return account_page(request, who, error="account.password_short", detail=exc.message)
    session = new_session(who.now, who.operator, None, sid)
    return redirect(who.with_session(session, who.role), "/account?notice=password")


@router.post("/account/tokens")
async def create_token(request: Request, who: OperatorDep) -> Response:
    """Create an API token and show it on this answer only (it is never shown again)."""
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    assert who.operator is not None
    try:
        raw, _ = who.context.accounts.create_token(
            who.operator, str(form.get("label") or ""), who.operator
        )
    except BridgeError as exc:
        return account_page(request, who, error="account.token_refused", detail=exc.message)
    response = account_page(request, who, "tokens.created", new_token=raw)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int, who: OperatorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    accounts = who.context.accounts
    try:
        token = accounts.token(token_id)
    except BridgeError:
        token = None
    if token is None or token.name != who.operator:
        return account_page(request, who, error="account.token_refused", detail="no such token")
    accounts.revoke_token(token_id)
    return redirect(who, "/account")


def _invite_page(
    request: Request, who: Visitor, code: str, name: str | None, error: str | None = None
) -> Response:
    context = {"code": code, "name": name, "error": error, "min_length": MIN_LENGTH}
    status = 404 if name is None else (422 if error else 200)
    return page(request, who, "invite.html", context, status_code=status)


@router.get("/invite/{code}")
def invite_form(request: Request, code: str, who: VisitorDep) -> Response:
    """Show the form to set a password; a bare GET changes nothing (mail scanners follow links)."""
    return _invite_page(request, who, code, who.context.accounts.invitee(code))


@router.post("/invite/{code}")
async def redeem_invite(request: Request, code: str, who: VisitorDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    accounts = who.context.accounts
    name = accounts.invitee(code)
    if name is None:
        return _invite_page(request, who, code, None)
    new, again = str(form.get("new_password") or ""), str(form.get("repeat_password") or "")
    if new != again:
        return _invite_page(request, who, code, name, "account.password_mismatch")
    try:
        accounts.redeem(code, new)
    except InvalidInput as exc:
        key = "account.password_short" if exc.field == "password" else "invite.invalid"
        return _invite_page(request, who, code, name if exc.field == "password" else None, key)
    return redirect(who, "/login?invited=1")

"""One-click acknowledge: GET /ack/{token} asks to confirm, POST acknowledges in the person's name.

A bare GET changes nothing, because mail scanners and chat link previews open every link. The
POST verifies the signature and expiry again, spends the link (single use) and acknowledges in
one transaction; a tampered or expired link changes nothing and the page says why. A link used
before, or one for an incident someone already acknowledged, is no dead end: the page says who
acknowledged it, when, and links to the incident. Pages follow the reader's Accept-Language.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import Conflict, NotFound
from tocsin.bridge.incidents.serialize import get_incident
from tocsin.bridge.incidents.service import acknowledge
from tocsin.bridge.notify.links import (
    ACK,
    AckClaim,
    LinkRejected,
    consume,
    link_used,
    verify_ack,
)
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.web.i18n import LANGUAGE_COOKIE, Translator, choose_language
from tocsin.bridge.web.render import ENVIRONMENT

router = APIRouter(tags=["ack"])

# No script, no framing (a framed one-click button invites clickjacking), only the board's own
# stylesheet, and the token in the path must not leak to other sites through Referer.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(
    request: Request,
    runtime: Runtime,
    state: str,
    *,
    row: Any = None,
    person: str | None = None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render the ack page of a state in the reader's language."""
    language = choose_language(
        request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    translate = Translator(language)
    link = f"{runtime.config.base_url}/incidents/{row.id}" if row is not None else None
    html = ENVIRONMENT.get_template("ack.html").render(
        t=translate, lang=language, state=state, row=row, person=person, link=link, **values
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def claim_of(runtime: Runtime, token: str, purpose: bytes = ACK) -> AckClaim:
    """Return a signed link's claim for this purpose (ack or survey); LinkRejected if not one."""
    key = runtime.config.secret_key
    if not key:
        raise LinkRejected("invalid", "this bridge has no signing key, so it issues no links")
    return verify_ack(key, token, runtime.clock(), purpose=purpose)


def incident_of(runtime: Runtime, incident_id: int) -> Any:
    """Return the incident a link names, or None."""
    with runtime.store.connect() as conn:
        return get_incident(conn, incident_id)


def _settled(request: Request, runtime: Runtime, incident_id: int) -> HTMLResponse:
    """Say who acknowledged the incident (or what became of it), with a link to it."""
    row = incident_of(runtime, incident_id)
    return _page(request, runtime, "already", row=row)


@router.get("/ack/{token}", response_class=HTMLResponse)
def confirm(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Show what the link would acknowledge, and a button that does it."""
    try:
        claim = claim_of(runtime, token)
        with runtime.store.connect() as conn:
            used = link_used(conn, claim)
            row = get_incident(conn, claim.incident_id)
    except LinkRejected as exc:
        return _page(request, runtime, exc.reason, status=exc.http_status)
    except NotFound:
        return _page(request, runtime, "gone", status=404)
    if used or row.status != "triggered":
        return _page(request, runtime, "already", row=row)
    return _page(request, runtime, "confirm", row=row, person=claim.person)


@router.post("/ack/{token}", response_class=HTMLResponse)
def acknowledge_by_link(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Spend the link and acknowledge the incident in the person's name, in one transaction."""
    try:
        claim = claim_of(runtime, token)
    except LinkRejected as exc:
        return _page(request, runtime, exc.reason, status=exc.http_status)
    try:
        now = runtime.clock()
        with runtime.store.begin() as conn:
            consume(conn, claim, now)
            acknowledge(conn, runtime.hooks, claim.incident_id, actor=claim.person, now=now)
    except NotFound:
        return _page(request, runtime, "gone", status=404)
    except (LinkRejected, Conflict):
        # Used before, or someone was quicker: nothing changed; say who has it.
        try:
            return _settled(request, runtime, claim.incident_id)
        except NotFound:
            return _page(request, runtime, "gone", status=404)
    return _page(request, runtime, "done", row=incident_of(runtime, claim.incident_id))

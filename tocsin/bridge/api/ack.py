"""One-click acknowledge: GET /ack/{token} asks to confirm, POST acknowledges in the person's name.

A bare GET changes nothing, because mail scanners and chat link previews open every link. The
POST verifies the signature and expiry again, spends the link (single use) and acknowledges in
one transaction; a tampered, expired or replayed link changes nothing and the page says why.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import Conflict, NotFound
from tocsin.bridge.incidents.serialize import get_incident
from tocsin.bridge.incidents.service import acknowledge
from tocsin.bridge.notify.links import AckClaim, LinkRejected, consume, link_used, verify_ack
from tocsin.bridge.server.runtime import Runtime

router = APIRouter(tags=["ack"])

# No script, no style, no framing (a framed one-click button invites clickjacking), and the
# token in the path must not leak to other sites through Referer.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Tocsin</title></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refused(exc: LinkRejected) -> HTMLResponse:
    titles = {
        "invalid": "Not an acknowledge link",
        "tampered": "Link not valid",
        "expired": "Link expired",
        "replayed": "Link already used",
    }
    return _page(
        titles[exc.reason], f"<p>{escape(exc.message)}. Nothing was changed.</p>", exc.http_status
    )


def _claim(runtime: Runtime, token: str) -> AckClaim:
    key = runtime.config.secret_key
    if not key:
        raise LinkRejected("invalid", "this bridge has no signing key, so it issues no links")
    return verify_ack(key, token, runtime.clock())


def _incident_link(runtime: Runtime, incident_id: int) -> str:
    url = f"{runtime.config.base_url}/incidents/{incident_id}"
    return f'<p><a href="{escape(url, quote=True)}">Open incident #{incident_id}</a></p>'


@router.get("/ack/{token}", response_class=HTMLResponse)
def confirm(token: str, runtime: RuntimeDep) -> HTMLResponse:
    """Show what the link would acknowledge, and a button that does it."""
    try:
        claim = _claim(runtime, token)
        with runtime.store.connect() as conn:
            if link_used(conn, claim):
                raise LinkRejected("replayed", "this link was already used; it works only once")
            row = get_incident(conn, claim.incident_id)
    except LinkRejected as exc:
        return _refused(exc)
    except NotFound:
        return _page("No such incident", "<p>The incident no longer exists.</p>", 404)
    facts = (
        f"<p><strong>{escape(row.priority)}</strong> {escape(row.title)}</p>"
        f"<p>Status: {escape(row.status)}</p>"
    )
    if row.status != "triggered":
        by = f" by {escape(row.acknowledged_by)}" if row.acknowledged_by else ""
        return _page(
            "Nothing to acknowledge",
            facts + f"<p>It is already {escape(row.status)}{by}.</p>"
            + _incident_link(runtime, row.id),
        )  # fmt: skip
    form = (
        '<form method="post">'
        f'<button type="submit">Acknowledge as {escape(claim.person)}</button></form>'
    )
    return _page(f"Acknowledge incident #{row.id}?", facts + form + _incident_link(runtime, row.id))


@router.post("/ack/{token}", response_class=HTMLResponse)
def acknowledge_by_link(token: str, runtime: RuntimeDep) -> HTMLResponse:
    """Spend the link and acknowledge the incident in the person's name, in one transaction."""
    try:
        claim = _claim(runtime, token)
        now = runtime.clock()
        with runtime.store.begin() as conn:
            consume(conn, claim, now)
            acknowledge(conn, runtime.hooks, claim.incident_id, actor=claim.person, now=now)
    except LinkRejected as exc:
        return _refused(exc)
    except NotFound:
        return _page("No such incident", "<p>The incident no longer exists.</p>", 404)
    except Conflict as exc:
        return _page(
            "Nothing to acknowledge",
            f"<p>{escape(exc.message)}. Nothing was changed.</p>"
            + _incident_link(runtime, claim.incident_id),
            409,
        )
    return _page(
        f"Incident #{claim.incident_id} acknowledged",
        f"<p>Acknowledged by {escape(claim.person)}.</p>"
        + _incident_link(runtime, claim.incident_id),
    )

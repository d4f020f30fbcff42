"""Render pages with Jinja2, autoescaping everything, behind a strict Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from tocsin.bridge.accounts import roles
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.web.i18n import LANGUAGES, Translator
from tocsin.bridge.web.session import CSRF_FIELD
from tocsin.bridge.web.visitor import Visitor

TEMPLATES = Path(__file__).parent / "templates"

# No inline script or style anywhere: alert text that slips past escaping still cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _format_time(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def when(value: datetime | None) -> Markup:
    """Return an instant for the viewer: UTC here, their own zone with seconds on hover (board.js)."""
    if value is None:
        return Markup("")
    moment = as_utc(value)
    return Markup(
        f'<time class="local" datetime="{rfc3339(moment)}" '
        f'title="{moment:%Y-%m-%d %H:%M:%S} UTC">{moment:%Y-%m-%d %H:%M} UTC</time>'
    )


# The one title the bridge writes itself (a silent host's incident): said in the reader's language.
_SILENT = re.compile(r"^Host (?P<host>.+) is silent: no heartbeat since (?P<since>\S+)$")


@pass_context
def shown_title(context: Context, title: str) -> str:
    """Return an incident title for the reader: the bridge's own words translated, data as is."""
    found = _SILENT.match(title or "")
    translate = context.get("t")
    if found is None or not isinstance(translate, Translator):
        return title
    return translate("heartbeat.title", host=found["host"], since=found["since"])


def build_environment(extra_paths: tuple[Path, ...] = ()) -> Environment:
    """Return the template environment; other pages (reports) may add their own folders."""
    env = Environment(
        loader=FileSystemLoader([TEMPLATES, *extra_paths]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _format_time
    env.filters["rfc3339"] = rfc3339
    env.globals["when"] = when
    env.filters["shown_title"] = shown_title
    return env


ENVIRONMENT = build_environment()


def secure_headers(response: Response, *, cache: bool = False) -> Response:
    """Add the CSP and its companions; pages hold CSRF tokens, so they are never cached."""
    response.headers.update(SECURITY_HEADERS)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def query_with(request: Request, **changes: str | None) -> str:
    """Return the current query string with some parameters replaced or removed."""
    params = {key: value for key, value in request.query_params.items() if key not in changes}
    params.update({key: value for key, value in changes.items() if value})
    return "?" + urlencode(params) if params else ""


def page(
    request: Request,
    who: Visitor,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    environment: Environment = ENVIRONMENT,
) -> HTMLResponse:
    """Render a page with what every template relies on: t, csrf_token, operator, now, lang."""
    translate = Translator(who.language)
    html = environment.get_template(template).render(
        t=translate,
        duration=translate.duration,
        local_time=translate.local_time,
        span=translate.span,
        field_label=translate.field,
        lang=who.language,
        other_language=next(code for code in LANGUAGES if code != who.language),
        csrf_field=CSRF_FIELD,
        csrf_token=who.session.csrf,
        operator=who.operator,
        may=who.may,
        now=who.now,
        path=request.url.path,
        reports_url=who.context.reports_url,
        query_with=lambda **changes: query_with(request, **changes),
        **(context or {}),
    )
    response = HTMLResponse(html, status_code=status_code)
    who.write_cookie(response)
    secure_headers(response)
    return response


def forbidden_page(request: Request, who: Visitor, permission: str) -> HTMLResponse:
    """The 403 page for a role lacking `permission`, naming the role needed."""
    translate = Translator(who.language)
    values = {
        "role": translate(f"role.{who.role}"),
        "needed": translate(f"role.{roles.needed_role(permission)}"),
    }
    context = {"message_key": "error.forbidden", "values": values}
    return page(request, who, "error.html", context, status_code=403)

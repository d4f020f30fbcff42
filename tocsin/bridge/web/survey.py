"""The reporter's survey: GET /survey/{token} shows the form, only POST records the answer.

No sign-in: the signed, expiring, single-use link is the reporter's credential, and it names
only its incident. A bare GET changes nothing (mail scanners open links); a second POST, a
race of two, an expired or altered link change nothing either, and the page says which. The
page shows the incident's number and title and nothing else of it. It speaks the reporter's
language (the one on the incident), unless the reader chose another with the language cookie.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import InvalidInput, NotFound
from tocsin.bridge.incidents.serialize import get_incident
from tocsin.bridge.incidents.survey import Answer, parse_answer
from tocsin.bridge.notify.links import SURVEY, LinkRejected, link_used
from tocsin.bridge.notify.survey import answer_survey
from tocsin.bridge.web.ack import HEADERS, claim_of, incident_of
from tocsin.bridge.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, choose_language
from tocsin.bridge.web.render import ENVIRONMENT

router = APIRouter(tags=["survey"])


def _page(
    request: Request,
    state: str,
    *,
    row: Any = None,
    status: int = 200,
    answer: Answer | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """Render the survey page of a state in the reporter's language."""
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    chosen = getattr(row, "reporter_language", None)
    language = (
        cookie
        if cookie in LANGUAGES
        else chosen
        if chosen in LANGUAGES
        else choose_language(None, request.headers.get("accept-language"))
    )
    html = ENVIRONMENT.get_template("survey.html").render(
        t=Translator(language), lang=language, state=state, row=row, answer=answer, error=error
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


@router.get("/survey/{token}", response_class=HTMLResponse)
def survey_form(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Show the survey form for a genuine, unused, unexpired link."""
    try:
        claim = claim_of(runtime, token, SURVEY)
        with runtime.store.connect() as conn:
            used = link_used(conn, claim)
            row = get_incident(conn, claim.incident_id)
    except LinkRejected as exc:
        return _page(request, exc.reason, status=exc.http_status)
    except NotFound:
        return _page(request, "gone", status=404)
    if used:
        return _page(request, "replayed", row=row, status=409)
    return _page(request, "form", row=row)


@router.post("/survey/{token}", response_class=HTMLResponse)
async def survey_answer(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Record the answer once: spend the link, set the satisfaction, tell a manager of a low one."""
    try:
        claim = claim_of(runtime, token, SURVEY)
    except LinkRejected as exc:
        return _page(request, exc.reason, status=exc.http_status)
    form = await request.form()
    try:
        row = incident_of(runtime, claim.incident_id)
    except NotFound:
        return _page(request, "gone", status=404)
    try:
        answer = parse_answer(form.get("score"), form.get("comment"))
    except InvalidInput as exc:
        return _page(request, "form", row=row, status=422, error=exc.field)
    try:
        now = runtime.clock()
        with runtime.store.begin() as conn:
            answer_survey(conn, runtime.hooks, claim, answer, now=now, policy=runtime.policy,
                          pager=runtime.pager)  # fmt: skip
    except LinkRejected as exc:
        return _page(request, exc.reason, row=row, status=exc.http_status)
    except NotFound:
        return _page(request, "gone", status=404)
    return _page(request, "done", row=row, answer=answer)

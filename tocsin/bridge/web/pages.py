"""The board, the incident page with its action forms, and the service desk's report form."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tocsin.bridge.accounts.roles import check_reassign
from tocsin.bridge.api.incidents import assignee_of
from tocsin.bridge.api.params import row_id
from tocsin.bridge.errors import BridgeError, InvalidInput
from tocsin.bridge.kb import search as kb
from tocsin.bridge.sla.paging_hours import paging_resumes
from tocsin.bridge.timers.calendar import data_missing
from tocsin.bridge.web.actions import (
    ACTION_PERMISSIONS,
    ACTIONS,
    REPORT_TYPES,
    MissingField,
    action_params,
    apply_action,
    report_fields,
)
from tocsin.bridge.web.auth import checked_form, csrf_refused, redirect
from tocsin.bridge.web.board import (
    STATUS_FILTERS,
    BoardFilter,
    board_version,
    load_board,
    open_teams,
)
from tocsin.bridge.web.detail import load_incident
from tocsin.bridge.web.i18n import Translator
from tocsin.bridge.web.render import forbidden_page, page, query_with, secure_headers
from tocsin.bridge.web.session import FLASH_COOKIE, decode_flash, encode_flash
from tocsin.bridge.web.timeline import escalations_seen, timeline
from tocsin.bridge.web.visitor import OperatorDep, ReaderDep, RegistrarDep, Visitor, web_router

router = web_router()
FINISHED = ("resolved", "closed")
FLASH_SECONDS = 120


# Form fields whose refusal the page can say in the visitor's language.
FIELD_LABELS = {
    "note": "field.note",
    "reason": "field.reason",
    "assignee": "field.assignee",
    "root_cause": "field.root_cause",
    "solution": "field.solution",
    "reporter": "new.reporter",
    "contact": "new.contact",
    "description": "new.description",
    "priority": "new.priority",
    "team": "col.team",
    "labels": "new.labels",
}


def explain(who: Visitor, exc: BridgeError) -> str:
    """Return a refusal for the page in the visitor's language, else as raised."""
    translate = Translator(who.language)
    field = getattr(exc, "field", None)
    key = getattr(exc, "key", None)
    if key is not None and key in translate.messages:
        values = {
            name: translate(f"{name}.{value}") if name in ("status", "action") else value
            for name, value in getattr(exc, "values", {}).items()
        }
        return translate(key, **values)
    if field == "satisfaction":
        return translate("error.satisfaction")
    if isinstance(exc, MissingField) and field in FIELD_LABELS:
        return translate("error.required", field=translate(FIELD_LABELS[field]))
    if field in FIELD_ERRORS:
        return translate(FIELD_ERRORS[field])
    return as_sentence(exc.message)


def as_sentence(message: str) -> str:
    """Return a refusal as a banner reads it: a capital first letter and a full stop."""
    text = message.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "。")) else text + "."


# Refusals of a field whose wording the page has in both languages.
FIELD_ERRORS = {
    "assignee": "error.assignee",
    "labels": "error.labels",
    "priority": "error.priority",
    "report_type": "error.report_type",
}


def without_nul_fields(values: dict[str, str]) -> None:
    """Refuse a form field holding NUL, naming it: PostgreSQL would refuse it with a 500."""
    for key, value in values.items():
        if "\x00" in value:
            raise InvalidInput(f"{key} contains a NUL character", field=key)


def _choice(value: str | None, allowed: tuple[str, ...] | list[str]) -> str | None:
    return value if value in allowed else None


@router.get("/")
def board(
    request: Request,
    who: ReaderDep,
    priority: str | None = None,
    status: str | None = None,
    team: str | None = None,
    after: str | None = None,
) -> Response:
    context = who.context
    if status in FINISHED:
        # The board holds open incidents; finished ones are found in the incidents view.
        return redirect(who, f"/incidents{query_with(request)}")
    with context.store.connect() as conn:
        # A refresh names the version it shows; when nothing happened since, it gets 304 alone.
        etag = f'"board-{board_version(conn, who.now)}"'
        if request.headers.get("if-none-match") == etag:
            unchanged = Response(status_code=304, headers={"ETag": etag})
            who.write_cookie(unchanged)
            return secure_headers(unchanged)
        teams = open_teams(conn)
        chosen = BoardFilter(
            priority=_choice(priority, context.priorities),
            status=_choice(status, STATUS_FILTERS),
            team=_choice(team, teams),
        )
        policy = context.policy() if context.policy is not None else None
        start = int(after) if after and after.isdigit() and len(after) < 19 else None
        shown = load_board(
            conn, chosen, context.priorities, who.now, context.calendars, policy, after=start
        )
    response = page(
        request,
        who,
        "board.html",
        {
            "rows": shown.rows,
            "total": shown.total,
            "next_after": shown.next_after,
            "paged": start is not None,
            "version": etag,
            "chosen": chosen,
            "priorities": context.priorities,
            "statuses": STATUS_FILTERS,
            "teams": teams,
            "calendar_notices": data_missing(context.calendars, who.now),
        },
    )
    response.headers["ETag"] = etag
    return response


def _incident_page(request: Request, who: Visitor, incident_id: int) -> Response:
    context = who.context
    with context.store.connect() as conn:
        view = load_incident(conn, incident_id, context.calendars)
        similar = kb.similar(conn, incident_id) if view else []
    if view is None:
        return _not_found(request, who, str(incident_id))
    flash = request.cookies.get(FLASH_COOKIE)
    error = None
    if request.query_params.get("refused") in ACTIONS:
        error = decode_flash(flash, who.session.csrf, who.context.secret_key)
    done = request.query_params.get("done")
    people, teams = who.context.assignees()
    translate = Translator(who.language)
    policy = context.policy() if context.policy is not None else None
    response = page(
        request,
        who,
        "incident.html",
        {
            "people": people,
            "teams": teams,
            "incident": view,
            "lines": timeline(view.timeline, translate, who.context.display_name),
            "escalations": escalations_seen(view.timeline),
            "similar": similar,
            "error": error,
            "done": done if done in ACTIONS else None,
            "paging_resumes": paging_resumes(policy, view.row, who.now) if policy else None,
        },
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=f"/incidents/{incident_id}")
    return response


@router.get("/incidents/new")
def new_incident_form(request: Request, who: RegistrarDep) -> Response:
    return _report_page(request, who, {}, None)


def _report_page(
    request: Request, who: Visitor, values: dict[str, Any], error: str | None, status: int = 200
) -> Response:
    people, teams = who.context.assignees()
    context = {
        "priorities": who.context.priorities,
        "people": people,
        "teams": teams,
        "report_types": REPORT_TYPES,
        "values": values,
        "error": error,
    }
    return page(request, who, "new_incident.html", context, status_code=status)


@router.post("/incidents/new")
async def register_incident(request: Request, who: RegistrarDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        without_nul_fields(values)
        report = report_fields(values, who.context.priorities)
        incident_id = who.context.service.report(report, actor=who.operator)
    except BridgeError as exc:
        return _report_page(request, who, values, explain(who, exc), status=exc.http_status)
    return redirect(who, f"/incidents/{incident_id}")


def _not_found(request: Request, who: Visitor, incident_id: str) -> Response:
    message: dict[str, Any] = {"message_key": "incident.not_found", "values": {"id": incident_id}}
    return page(request, who, "error.html", message, status_code=404)


# Ids arrive as text: a page, not a JSON validation error, answers one that names no incident.
@router.get("/incidents/{incident_id}")
def incident(request: Request, incident_id: str, who: ReaderDep) -> Response:
    number = row_id(incident_id)
    if number is None:
        return _not_found(request, who, incident_id[:40])
    return _incident_page(request, who, number)


@router.post("/incidents/{incident_id}/{action}")
async def act(request: Request, incident_id: str, action: str, who: OperatorDep) -> Response:
    permission = ACTION_PERMISSIONS.get(action, "respond")
    if not who.may(permission):
        return forbidden_page(request, who, permission)
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    number = row_id(incident_id)
    if number is None:
        return _not_found(request, who, incident_id[:40])
    assert who.operator is not None
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        without_nul_fields(values)
        if action not in ACTIONS:
            raise InvalidInput(f"unknown action {action!r}")
        params = action_params(action, values)
        if action == "reassign":
            current = assignee_of(who.context.store, number)
            check_reassign(who.role, who.operator, current, params["assignee"])
        apply_action(who.context.service, number, action, who.operator, params)
    except BridgeError as exc:
        # Refused, and still Post/Redirect/Get: the page says why and a reload repeats nothing.
        refused = redirect(who, f"/incidents/{number}?refused={action}")
        refused.set_cookie(
            FLASH_COOKIE,
            encode_flash(explain(who, exc), who.session.csrf, who.context.secret_key),
            max_age=FLASH_SECONDS,
            path=f"/incidents/{number}",
            httponly=True,
            samesite="lax",
            secure=who.secure,
        )
        return refused
    # Post/Redirect/Get: a reload never repeats the action.
    return redirect(who, f"/incidents/{number}?done={action}")

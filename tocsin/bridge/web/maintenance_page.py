"""/maintenance: see, open, extend and end maintenance windows, and what they held back."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tocsin.bridge.api.maintenance import window_length
from tocsin.bridge.errors import BridgeError, InvalidInput
from tocsin.bridge.maintenance.service import Desk
from tocsin.bridge.maintenance.weekly import read_weekly
from tocsin.bridge.maintenance.windows import DAYS
from tocsin.bridge.web.auth import checked_form, csrf_refused, redirect
from tocsin.bridge.web.i18n import Translator
from tocsin.bridge.web.pages import explain, without_nul_fields
from tocsin.bridge.web.render import page
from tocsin.bridge.web.visitor import ManagerDep, ReaderDep, Visitor, web_router

router = web_router()
DONE = ("opened", "extended", "ended", "weekly")
FIELD_ERRORS = {name: f"error.{name}" for name in ("matchers", "duration", "reason", "ends_at")}
WEEKLY_ERRORS = (
    FIELD_ERRORS
    | {name: f"error.weekly_{name}" for name in ("days", "start", "duration", "timezone")}
    | {"first": "error.weekly_dates", "until": "error.weekly_dates"}
)
WEEKLY_FORM = {"start": "02:00", "duration": "2h", "timezone": "UTC", "days": ["sun"]}


def _desk(who: Visitor) -> Desk:
    desk = who.context.maintenance
    assert desk is not None, "the runtime always provides maintenance windows"
    return desk


def _page(
    request: Request,
    who: Visitor,
    form: dict[str, str],
    error: str | None = None,
    status: int = 200,
    weekly: dict[str, Any] | None = None,
) -> Response:
    done = request.query_params.get("done")
    return page(
        request,
        who,
        "maintenance.html",
        {
            "listing": _desk(who).listing(),
            "form": form,
            "weekly_form": weekly or WEEKLY_FORM,
            "days": DAYS,
            "error": error,
            "done": done if done in DONE else None,
        },
        status_code=status,
    )


@router.get("/maintenance")
def maintenance(request: Request, who: ReaderDep) -> Response:
    return _page(request, who, {"duration": "30m"})


@router.post("/maintenance")
async def open_window(request: Request, who: ManagerDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        without_nul_fields(values)
        length = window_length(values.get("duration", "").strip())
        _desk(who).open(
            _matchers(values), who.now + length, values.get("reason", ""), who.operator, "web"
        )
    except BridgeError as exc:
        return _page(request, who, values, _explained(who, exc), exc.http_status)
    return redirect(who, "/maintenance?done=opened")


@router.post("/maintenance/weekly")
async def open_weekly(request: Request, who: ManagerDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    days = [day for day in form.getlist("days") if isinstance(day, str)]
    try:
        without_nul_fields(values)
        weekly = read_weekly(
            days=days,
            start=values.get("start", "").strip(),
            end=None,
            length=window_length(values.get("duration", "").strip()),
            timezone=values.get("timezone", "").strip() or "UTC",
            first=_day(values, "first"),
            until=_day(values, "until"),
            now=who.now,
        )
        _desk(who).open_weekly(
            _matchers(values), weekly, values.get("reason", ""), who.operator, "web"
        )
    except BridgeError as exc:
        shown = _explained(who, exc, WEEKLY_ERRORS)
        form_back = values | {"days": days}
        return _page(request, who, {"duration": "30m"}, shown, exc.http_status, form_back)
    return redirect(who, "/maintenance?done=weekly")


@router.post("/maintenance/{window_id}/{action}")
async def change(request: Request, window_id: int, action: str, who: ManagerDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        without_nul_fields(values)
        if action == "end":
            _desk(who).end(window_id, who.operator)
        elif action == "extend":
            length = window_length(values.get("duration", "").strip())
            _desk(who).extend(window_id, who.now + length, who.operator)
        else:
            raise InvalidInput(f"unknown action {action!r}")
    except BridgeError as exc:
        return _page(request, who, {"duration": "30m"}, _explained(who, exc), exc.http_status)
    return redirect(who, f"/maintenance?done={'ended' if action == 'end' else 'extended'}")


def _day(values: dict[str, str], field: str) -> date | None:
    text = values.get(field, "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a date such as 2027-01-31", field) from exc


def _matchers(values: dict[str, str]) -> list[str]:
    return [line.strip() for line in values.get("matchers", "").splitlines() if line.strip()]


def _explained(who: Visitor, exc: BridgeError, errors: dict[str, str] = FIELD_ERRORS) -> str:
    field = getattr(exc, "field", None)
    if field in errors:
        return Translator(who.language)(errors[field])
    return explain(who, exc)

"""The admin's page of people: who may sign in, their roles, invite links, signing them out."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tocsin.bridge.accounts.roles import ROLES
from tocsin.bridge.errors import BridgeError
from tocsin.bridge.web.auth import checked_form, csrf_refused, redirect
from tocsin.bridge.web.render import page
from tocsin.bridge.web.visitor import AdminDep, Visitor, web_router

router = web_router()
PERSON_ACTIONS = ("role", "invite", "sign-out")


def people_page(request: Request, who: Visitor, status: int = 200, **more: Any) -> Response:
    """Render the list of people with the admin's forms."""
    context = {"people": who.context.accounts.everyone(), "roles": ROLES, "invite": None}
    context.update(more)
    return page(request, who, "people.html", context, status_code=status)


@router.get("/people")
def people(request: Request, who: AdminDep) -> Response:
    return people_page(request, who)


@router.post("/people")
async def add_person(request: Request, who: AdminDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    name = str(form.get("name") or "").strip()
    try:
        who.context.accounts.add(
            name, str(form.get("full_name") or "").strip()[:200], str(form.get("role") or "")
        )
    except BridgeError as exc:
        return people_page(request, who, status=exc.http_status, error=exc.message)
    return redirect(who, "/people")


@router.post("/people/{name}/{action}")
async def person_action(request: Request, name: str, action: str, who: AdminDep) -> Response:
    form = await checked_form(request, who)
    if form is None:
        return csrf_refused(request, who)
    accounts = who.context.accounts
    try:
        if action == "role":
            accounts.set_role(name, str(form.get("role") or ""))
        elif action == "invite":
            code = accounts.invite(name, who.operator)
            link = f"{who.context.public_url}/invite/{code}"
            return people_page(request, who, invite={"name": name, "link": link})
        elif action == "sign-out":
            accounts.sign_out_everywhere(name)
        else:
            return people_page(request, who, status=404, error=f"unknown action {action[:40]!r}")
    except BridgeError as exc:
        return people_page(request, who, status=exc.http_status, error=exc.message)
    return redirect(who, "/people")

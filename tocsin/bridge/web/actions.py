"""Turn the incident page's forms into incident-service calls, checking required fields first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.incidents.intake import Report
from tocsin.bridge.incidents.service import IncidentService

ACTIONS = (
    "ack",
    "contact",
    "note",
    "pause",
    "resume",
    "reassign",
    "escalate",
    "resolve",
    "close",
    "reopen",
    "amend",
)
# The permission (tocsin.bridge.accounts.roles) each action needs, as its API route does.
ACTION_PERMISSIONS = {
    "ack": "respond",
    "contact": "communicate",
    "note": "communicate",
    "pause": "communicate",
    "resume": "communicate",
    "reassign": "respond",
    "escalate": "respond",
    "resolve": "respond",
    "close": "close",
    "reopen": "respond",
    "amend": "respond",
}
REPORT_TYPES = ("phone", "email", "walk_in", "other")
MAX_TEXT = 10_000
MAX_NAME = 100


class MissingField(InvalidInput):
    """A required form field was left empty."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is required", field=field)


def _text(form: Mapping[str, Any], name: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise MissingField(name)
    if len(text) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    return text


def action_params(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """Return the service's parameters for a form, or raise InvalidInput naming the field."""
    if action == "ack":
        return {}
    if action == "note":
        return {"text": _text(form, "note", required=True), "public": bool(form.get("public"))}
    if action in ("pause", "resume"):
        return {"reason": _text(form, "reason", required=True)}
    if action == "reassign":
        return {"assignee": _text(form, "assignee", required=True, limit=MAX_NAME)}
    if action in ("escalate", "reopen"):
        return {"reason": _text(form, "reason", required=False) or None}
    if action == "contact":
        return {"note": _text(form, "note", required=False, limit=2000) or None}
    if action in ("resolve", "amend"):
        return {
            "root_cause": _text(form, "root_cause", required=True),
            "solution": _text(form, "solution", required=True),
        }
    if action == "close":
        if "satisfaction" not in form:  # the page asks none once the reporter answered the survey
            return {"satisfaction": None, "comment": _text(form, "comment", required=False) or None}
        raw = _text(form, "satisfaction", required=True, limit=2)
        if not raw.isdigit() or not 1 <= int(raw) <= 5:
            raise InvalidInput("satisfaction must be 1 to 5", field="satisfaction")
        return {"satisfaction": int(raw), "comment": _text(form, "comment", required=False) or None}
    raise InvalidInput(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")


def apply_action(
    service: IncidentService, incident_id: int, action: str, actor: str, params: Mapping[str, Any]
) -> None:
    """Apply one action through the incident service (a form's note is the service's notes)."""
    service.act(incident_id, "notes" if action == "note" else action, actor=actor, **params)


def parse_labels(text: str) -> dict[str, str]:
    """Return labels written as `name=value, name=value`, or raise InvalidInput naming the field."""
    labels: dict[str, str] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        if not equals or not name.strip():
            raise InvalidInput(f"labels: {part.strip()!r} is not name=value", field="labels")
        labels[name.strip()[:200]] = value.strip()[:2000]
    return labels


def report_fields(form: Mapping[str, Any], priorities: Sequence[str]) -> Report:
    """Return a service-desk report, or raise InvalidInput naming the field.

    The priority is chosen by the person, never a silent default: routes only suggest one.
    """
    priority = _text(form, "priority", required=True, limit=8)
    if priority not in priorities:
        raise InvalidInput(f"priority must be one of {', '.join(priorities)}", field="priority")
    report_type = _text(form, "report_type", required=True, limit=20)
    if report_type not in REPORT_TYPES:
        raise InvalidInput(
            f"report_type must be one of {', '.join(REPORT_TYPES)}", field="report_type"
        )
    description = _text(form, "description", required=True)
    title = _text(form, "title", required=False, limit=200)
    return Report(
        title=title or description.splitlines()[0][:120],
        priority=priority,
        reporter=_text(form, "reporter", required=True, limit=200),
        contact=_text(form, "contact", required=True, limit=200),
        email=_text(form, "reporter_email", required=False, limit=254) or None,
        language=_text(form, "reporter_language", required=False, limit=16) or None,
        report_type=report_type,
        description=description,
        service=_text(form, "service", required=False, limit=200) or None,
        host=_text(form, "host", required=False, limit=200) or None,
        team=_text(form, "team", required=False, limit=MAX_NAME) or None,
        assignee=_text(form, "assignee", required=False, limit=MAX_NAME) or None,
        labels=parse_labels(_text(form, "labels", required=False, limit=4000)),
    )

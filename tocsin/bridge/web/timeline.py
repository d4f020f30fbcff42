"""Say each timeline event as a sentence in the reader's language, free of I/O.

People read "Paged Primary on-call" and "Paused by alice: waiting on the reporter", not event
data keys. Escalation levels are counted as people count them: the first page is no escalation,
each step after it (or a manual escalation) is one more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tocsin.bridge.web.i18n import Translator

Names = Callable[[str], str]


@dataclass(frozen=True)
class Line:
    """One event as the timeline shows it: a sentence, an optional quote and named details."""

    kind: str
    occurred_at: datetime
    sentence: str
    quote: str | None = None
    details: tuple[tuple[str, str], ...] = ()
    warning: str | None = field(default=None)


def _who(event: Any, t: Translator, name: Names) -> str:
    return name(event.actor) if event.actor else t("line.system")


def _target(target: str, name: Names) -> str:
    kind, _, who = target.partition(":")
    return name(who) if kind == "person" else who or target


def _people(targets: Sequence[str], t: Translator, name: Names) -> str:
    shown = [_target(str(target), name) for target in targets]
    return t("line.list_sep").join(shown) if shown else t("line.nobody")


def _unreached(data: Mapping[str, Any], t: Translator, name: Names) -> str | None:
    missed = data.get("unreached")
    if not missed:
        return None
    why = data.get("unreached_reason")
    text = t("line.unreached", targets=_people(missed, t, name))
    return f"{text} ({why})" if why else text


def is_escalation(event: Any) -> bool:
    """Return whether an event raised the escalation as people see it (not the first page)."""
    if event.kind != "incident.escalated":
        return False
    data = event.data
    return bool(event.actor) or data.get("path") != "response" or int(data.get("step") or 0) > 0


def escalations_seen(events: Sequence[Any]) -> int:
    """Return how many times the incident was escalated, counted as people count them."""
    return sum(1 for event in events if is_escalation(event))


def _escalated(event: Any, t: Translator, name: Names, count: int) -> str:
    data = event.data
    paged = _people(data.get("paged") or data.get("targets") or [], t, name)
    if not is_escalation(event):
        return t("line.paged", people=paged)
    if data.get("path") == "resolution" and data.get("name"):
        key = f"level.{data['name']}"
        level = t(key) if key in t.messages else str(data["name"])
        body = t("line.engaged", level=level, people=paged)
    else:
        body = t("line.paged_more", people=paged)
    if event.actor:
        head = t("line.escalation_by", count=count, who=name(event.actor))
    else:
        head = t("line.escalation", count=count)
    return head + t("line.colon") + body


def say(event: Any, t: Translator, name: Names, count: int = 0) -> Line:
    """Return the sentence of one event; `count` is its escalation's number as people see it."""
    data: Mapping[str, Any] = event.data or {}
    kind = event.kind
    who = _who(event, t, name)
    quote = data.get("text") or data.get("reason") or data.get("note")
    details: list[tuple[str, str]] = []
    if kind == "incident.triggered":
        source = str(data.get("source") or "manual")
        key = "line.opened_by" if event.actor else f"line.opened.{source}"
        if key not in t.messages:
            key = "line.opened.alert"
        sentence = t(key, who=who, priority=data.get("priority", ""))
    elif kind == "incident.escalated":
        sentence = _escalated(event, t, name, count)
    elif kind in ("incident.sla_warning", "incident.sla_breached"):
        clock = t(f"clock.{data.get('sla', 'response')}")
        sentence = t(f"line.{kind.removeprefix('incident.')}", clock=clock)
    elif kind == "incident.resumed":
        paused = float(data.get("paused_seconds") or 0)
        sentence = t("line.resumed", who=who, paused=t.duration(paused))
    elif kind == "incident.reassigned":
        sentence = t("line.reassigned", who=who, assignee=name(str(data.get("assignee", ""))))
        if data.get("paged"):
            sentence += t("line.and_paged", people=_people(data["paged"], t, name))
    elif kind == "incident.notified":
        sentence = _notified(data, t, name)
    elif kind == "incident.resolved":
        sentence = t("line.resolved", who=who) if event.actor else t("line.resolved_auto")
        quote = None  # an automatic resolution's reason is the system's English, said above
        details = _resolution(data, t)
    elif kind == "incident.resolution_edited":
        sentence = t("line.resolution_edited", who=who)
        details = _resolution(data, t)
    elif kind == "incident.note_added" and data.get("from_reporter"):
        sentence = t("line.note_from_reporter")
    elif kind == "incident.note_added" and data.get("public"):
        sentence = t("line.note_public", who=who)
    elif kind == "incident.survey_answered":
        sentence = t("line.survey_answered", score=data.get("score", "?"))
        quote = data.get("comment")
    elif kind == "incident.retitled":
        key = "line.retitled" if event.actor else "line.retitled_alert"
        previous, title = str(data.get("previous", "")), str(data.get("title", ""))
        sentence = t(key, who=who, previous=previous, title=title)
    elif kind == "incident.reporter_mail_failed":
        sentence = t("line.reporter_mail_failed")
        mail = str(data.get("mail") or "")
        what = t(f"mail.{mail}") if f"mail.{mail}" in t.messages else mail
        return Line(kind, event.occurred_at, sentence, None, (),
                    t("line.reporter_mail_failed_why", mail=what, error=data.get("error", "")))  # fmt: skip
    elif kind == "incident.closed":
        score = data.get("satisfaction")
        sentence = (
            t("line.closed_score", who=who, score=score) if score else t("line.closed", who=who)
        )
        quote = data.get("comment")
    else:
        short = kind.removeprefix("incident.")
        key = f"line.{short}"
        sentence = t(key, who=who) if key in t.messages else t(f"event.{kind}")
    return Line(kind, event.occurred_at, sentence, quote, tuple(details), _unreached(data, t, name))


def _clock_time(text: object, t: Translator) -> str:
    """Return a stored RFC 3339 instant as the timeline shows a planned step."""
    try:
        return t.local_time(datetime.fromisoformat(str(text)))
    except ValueError:
        return str(text)


def _notified(data: Mapping[str, Any], t: Translator, name: Names) -> str:
    """Say what a person's rule did: whom it reached, what it planned, held or hurried."""
    person = name(str(data.get("person", "")))
    if data.get("unanswered"):
        values = {"person": person, "via": data["unanswered"], "status": data.get("status", "")}
        if data.get("next"):
            return t("line.notified_unreached", next=data["next"], **values)
        return t("line.notified_last", **values)
    if data.get("folded"):
        at = _clock_time(data.get("until"), t)
        return t("line.notified_folded", person=person, via=data["folded"], at=at)
    if data.get("held"):
        via = t("line.list_sep").join(str(v) for v in data["held"])
        return t("line.notified_held", person=person, via=via, at=_clock_time(data.get("until"), t))
    parts = []
    if data.get("sent"):
        via = t("line.list_sep").join(str(v) for v in data["sent"])
        parts.append(t("line.notified_sent", person=person, via=via))
    if data.get("planned"):
        steps = t("line.list_sep").join(
            t("line.notified_step", via=step.get("via"), at=_clock_time(step.get("at"), t))
            for step in data["planned"]
        )
        parts.append(t("line.notified_planned", person=person, steps=steps))
    return "; ".join(parts) or t("event.incident.notified")


def _resolution(data: Mapping[str, Any], t: Translator) -> list[tuple[str, str]]:
    return [
        (t(f"incident.{key}"), str(data[key]))
        for key in ("root_cause", "solution")
        if data.get(key)
    ]


def timeline(events: Sequence[Any], t: Translator, name: Names) -> list[Line]:
    """Return the sentences of events given newest first, escalations numbered oldest first."""
    numbers: dict[int, int] = {}
    count = 0
    for position in range(len(events) - 1, -1, -1):
        if is_escalation(events[position]):
            count += 1
            numbers[position] = count
    return [say(event, t, name, numbers.get(i, 0)) for i, event in enumerate(events)]

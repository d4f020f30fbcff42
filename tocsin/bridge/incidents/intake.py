"""One way in: a report from the web form or the API is routed like an alert, so it pages alike.

A P1 phone report must reach the same on-call people as a P1 alert. Its service, host, team and
labels are matched against the policy's routes exactly as an alert's labels are; the route gives
the team, the escalation policy and the suggested priority, each of which the report may name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.policy.model import Policy


@dataclass(frozen=True)
class Report:
    """What a person reports: the text, who reported it, and what it is about."""

    title: str
    description: str = ""
    priority: str | None = None  # None: the route's priority
    reporter: str | None = None
    contact: str | None = None
    email: str | None = None  # where the reporter hears of the incident by mail
    language: str | None = None  # of those mails: en or zh-CN (None: the configured default)
    report_type: str | None = None
    service: str | None = None
    host: str | None = None
    team: str | None = None
    assignee: str | None = None
    escalation: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


REPORTER_LANGUAGES = ("en", "zh-CN")
_LANGUAGE_ALIASES = {"en": "en", "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN"}
# One plain address: no display name, no list, nothing a mail header could be split on.
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]{1,64}@[^@\s<>,;:\"()\[\]\\]{1,253}")


def reporter_email(text: str | None, field_name: str = "email") -> str | None:
    """Return a reporter's mail address, or raise InvalidInput naming the field."""
    value = (text or "").strip()
    if not value:
        return None
    if len(value) > 254 or not _ADDRESS.fullmatch(value) or not value.isprintable():
        raise InvalidInput(
            f"{field_name} {value[:60]!r} is not one mail address such as name@example.com",
            field=field_name,
        )
    return value


def reporter_language(text: str | None, field_name: str = "language") -> str | None:
    """Return en or zh-CN for a language tag (zh, zh-Hans too), or raise InvalidInput."""
    value = (text or "").strip()
    if not value:
        return None
    found = _LANGUAGE_ALIASES.get(value.lower())
    if found is None:
        raise InvalidInput(
            f"{field_name} {value[:20]!r} is not one of {', '.join(REPORTER_LANGUAGES)}",
            field=field_name,
        )
    return found


def route_labels(report: Report) -> dict[str, str]:
    """Return the labels routes match for a report: its own, plus service, host and team."""
    labels = dict(report.labels)
    for name, value in (("service", report.service), ("team", report.team)):
        if value:
            labels.setdefault(name, value)
    if report.host:
        # Alerts name their host `instance`: a route written for alerts matches the report too.
        labels.setdefault("instance", report.host)
        labels.setdefault("host", report.host)
    return labels


def known_assignee(policy: Policy, name: str, field_name: str = "assignee") -> str:
    """Return a person or team name the policy knows, or raise InvalidInput naming the field."""
    if name in policy.people or name in policy.teams:
        return name
    known = sorted({*policy.people, *policy.teams})
    hint = f"; expected one of {', '.join(known)}" if known else "; the policy names nobody"
    raise InvalidInput(f"{field_name} {name!r} is no known person or team{hint}", field=field_name)


def routed_fields(policy: Policy, report: Report) -> dict[str, Any]:
    """Return the incident's columns for a report, routed by the policy; refuse unknown names.

    A team is kept as given (reports count by it, as the API always allowed); an assignee must
    be a known person or team, since an unknown one would be paged nowhere.
    """
    labels = route_labels(report)
    route = policy.route_for(labels)
    priority = report.priority or route.priority
    if priority not in policy.priorities:
        raise InvalidInput(
            f"priority {priority!r} is not one of {', '.join(policy.priorities)}", field="priority"
        )
    escalation = report.escalation or route.escalation
    if escalation is not None and escalation not in policy.escalation_policies:
        raise InvalidInput(f"unknown escalation policy {escalation!r}", field="escalation")
    assignee = known_assignee(policy, report.assignee) if report.assignee else None
    return {
        "title": report.title,
        "priority": priority,
        "description": report.description,
        "reporter": report.reporter,
        "reporter_contact": report.contact,
        "reporter_email": reporter_email(report.email),
        "reporter_language": reporter_language(report.language),
        "report_type": report.report_type,
        "service": report.service or labels.get(route.service_label),
        "host": report.host,
        "team": report.team or route.team,
        "assignee": assignee,
        "escalation_policy": escalation,
        "labels": dict(report.labels),
        "auto_resolve": False,
    }

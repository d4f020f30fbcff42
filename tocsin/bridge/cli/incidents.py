"""`tocsin-bridge incidents …`: what people on call do from a terminal, through the API."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from tocsin.bridge.cli.client import BridgeClient
from tocsin.bridge.cli.options import json_option, with_client
from tocsin.common.durations import format_duration


@click.group()
@with_client
def incidents() -> None:
    """List, show and act on incidents of a running bridge."""


@incidents.command("list")
@click.option(
    "--status", multiple=True, help="triggered|acknowledged|resolved|closed (repeatable)."
)
@click.option("--priority", multiple=True, help="P1, P2, … (repeatable).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
@click.pass_obj
def list_(
    client: BridgeClient,
    status: tuple[str, ...],
    priority: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List incidents, newest first."""
    page = client.list_incidents(status=list(status), priority=list(priority), limit=limit)
    if as_json:
        click.echo(json.dumps(page, indent=2, ensure_ascii=False))
        return
    rows = [
        (
            str(i["id"]),
            i["priority"],
            i["status"] + (" (paused)" if i["paused"] else ""),
            _next_due(i),
            i["assignee"] or "-",
            i["title"],
        )
        for i in page["incidents"]
    ]
    click.echo(_table(("ID", "PRI", "STATUS", "NEXT DUE", "ASSIGNEE", "TITLE"), rows))


@incidents.command()
@click.argument("incident_id", type=int)
@json_option
@click.pass_obj
def show(client: BridgeClient, incident_id: int, as_json: bool) -> None:
    """Show one incident with its alerts and timeline."""
    _print(client.get_incident(incident_id), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@json_option
@click.pass_obj
def ack(client: BridgeClient, incident_id: int, as_json: bool) -> None:
    """Acknowledge an incident."""
    _print(client.act(incident_id, "ack"), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--root-cause", required=True, help="What caused it.")
@click.option("--solution", required=True, help="What fixed it.")
@json_option
@click.pass_obj
def resolve(
    client: BridgeClient, incident_id: int, root_cause: str, solution: str, as_json: bool
) -> None:
    """Resolve an incident with its root cause and solution."""
    body = {"root_cause": root_cause, "solution": solution}
    _print(client.act(incident_id, "resolve", body), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.argument("text")
@click.option(
    "--public",
    is_flag=True,
    help="Mail it to the reporter; it counts as their progress update. Default: internal.",
)
@json_option
@click.pass_obj
def note(client: BridgeClient, incident_id: int, text: str, public: bool, as_json: bool) -> None:
    """Add a note to an incident's timeline (internal unless --public)."""
    _print(client.act(incident_id, "notes", {"text": text, "public": public}), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.argument("text")
@json_option
@click.pass_obj
def title(client: BridgeClient, incident_id: int, text: str, as_json: bool) -> None:
    """Give an incident a title by hand; its alerts no longer change it."""
    _print(client.act(incident_id, "title", {"title": text}), as_json)


@incidents.command()
@click.option("--title", required=True, help="What is wrong, in the reporter's words.")
@click.option("--priority", default=None, help="P1, P2, …; default: the route's.")
@click.option("--description", default="", help="The full report.")
@click.option("--reporter", default=None, help="Who reported it.")
@click.option("--contact", default=None, help="How to reach them (phone or mail).")
@click.option("--email", default=None, help="The reporter's mail address: they are mailed.")
@click.option("--language", default=None, help="Of the reporter's mails: en or zh-CN.")
@click.option("--type", "report_type", default=None, help="phone, email, walk_in or other.")
@click.option("--service", default=None)
@click.option("--host", default=None)
@click.option("--team", default=None)
@json_option
@click.pass_obj
def report(client: BridgeClient, /, as_json: bool, **fields: str | None) -> None:
    """Register an incident a person reported (phone, mail, walk-in), routed like an alert."""
    body = {("type" if k == "report_type" else k): v for k, v in fields.items() if v}
    _print(client.create_incident(body), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--reason", default=None, help="Why, for the timeline.")
@json_option
@click.pass_obj
def escalate(client: BridgeClient, incident_id: int, reason: str | None, as_json: bool) -> None:
    """Page the next level of the incident's escalation policy now."""
    _print(client.act(incident_id, "escalate", {"reason": reason}), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--reason", required=True, help="What you wait for, e.g. the reporter's reply.")
@json_option
@click.pass_obj
def pause(client: BridgeClient, incident_id: int, reason: str, as_json: bool) -> None:
    """Pause the clocks of an acknowledged incident while waiting on the reporter."""
    _print(client.act(incident_id, "pause", {"reason": reason}), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--reason", default=None, help="Why the clocks run again.")
@json_option
@click.pass_obj
def resume(client: BridgeClient, incident_id: int, reason: str | None, as_json: bool) -> None:
    """Resume the clocks where they stopped."""
    _print(client.act(incident_id, "resume", {"reason": reason}), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.argument("assignee")
@json_option
@click.pass_obj
def reassign(client: BridgeClient, incident_id: int, assignee: str, as_json: bool) -> None:
    """Hand the incident to a person or team of the policy; they are paged."""
    _print(client.act(incident_id, "reassign", {"assignee": assignee}), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--satisfaction", type=click.IntRange(1, 5), default=None, help="1 to 5.")
@click.option("--comment", default=None, help="The reporter's words.")
@json_option
@click.pass_obj
def close(
    client: BridgeClient,
    incident_id: int,
    satisfaction: int | None,
    comment: str | None,
    as_json: bool,
) -> None:
    """Close a resolved incident after the follow-up with the reporter."""
    body = {"satisfaction": satisfaction, "comment": comment}
    _print(client.act(incident_id, "close", body), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--reason", default=None, help="Why it is not fixed after all.")
@json_option
@click.pass_obj
def reopen(client: BridgeClient, incident_id: int, reason: str | None, as_json: bool) -> None:
    """Reopen a resolved incident: its clocks run again and it needs a new resolution."""
    _print(client.act(incident_id, "reopen", {"reason": reason}), as_json)


@incidents.command()
@click.argument("incident_id", type=int)
@click.option("--root-cause", required=True, help="What caused it.")
@click.option("--solution", required=True, help="What fixed it.")
@json_option
@click.pass_obj
def resolution(
    client: BridgeClient, incident_id: int, root_cause: str, solution: str, as_json: bool
) -> None:
    """Set or correct the root cause and solution of a resolved or closed incident."""
    body = {"root_cause": root_cause, "solution": solution}
    _print(client.act(incident_id, "resolution", body), as_json)


def _print(incident: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(incident, indent=2, ensure_ascii=False))
        return
    fields = [
        ("id", incident["id"]),
        ("title", incident["title"]),
        ("priority", incident["priority"]),
        ("status", incident["status"] + (" (paused)" if incident["paused"] else "")),
        ("service", incident.get("service") or "-"),
        ("host", incident["host"] or "-"),
        ("team", incident.get("team") or "-"),
        ("assignee", incident["assignee"] or "-"),
        ("reporter", _reporter(incident)),
        ("created", incident["created_at"]),
        ("acknowledged", _by(incident["acknowledged_at"], incident["acknowledged_by"])),
        ("resolved", _by(incident["resolved_at"], incident["resolved_by"])),
    ]
    for name in ("root_cause", "solution"):
        if incident.get(name):
            fields.append((name.replace("_", " "), incident[name]))
    if incident.get("satisfaction"):
        by = f" (by {incident['satisfaction_by']})" if incident.get("satisfaction_by") else ""
        fields.append(("satisfaction", f"{incident['satisfaction']}/5{by}"))
    for clock, state in (incident.get("sla") or {}).items():
        if state:
            fields.append((f"sla {clock}", _clock(state)))
    click.echo("\n".join(f"{name:>14}: {value}" for name, value in fields))
    for alert in incident.get("alerts", []):
        labels = ",".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        click.echo(f"{'alert':>14}: {alert['status']} {{{labels}}}")
    for event in incident.get("timeline", []):
        data = event.get("data") or {}
        said = data.get("text") or data.get("reason")
        kind = event["kind"] + (" (public)" if data.get("public") else "")
        line = f"{event['occurred_at']:>24}  {kind:<28} {event['actor'] or 'system'}"
        click.echo(f"{line}: {said}" if said else line)


def _reporter(incident: dict[str, Any]) -> str:
    parts = [incident.get(k) for k in ("reporter", "reporter_contact", "reporter_email")]
    language = incident.get("reporter_language")
    shown = ", ".join(str(p) for p in parts if p) or "-"
    return f"{shown} ({language})" if language else shown


def _by(when: str | None, who: str | None) -> str:
    return "-" if when is None else f"{when} by {who or 'system'}"


def _clock(state: dict[str, Any]) -> str:
    if state.get("met"):
        return "met"
    if state.get("outcome") == "resolved_before_response":
        return "resolved before response"
    remaining = state.get("remaining_seconds")
    text = "paused" if remaining is None else _left(remaining)
    return f"{text} BREACHED" if state.get("breached") else text


def _left(seconds: float) -> str:
    """Say time left as a person would: '12m30s' ahead, 'overdue 46s' past the deadline."""
    if seconds < 0:
        return "overdue " + format_duration(-seconds, largest=2)
    return format_duration(seconds, largest=2)


def _next_due(incident: dict[str, Any]) -> str:
    if incident["status"] in ("resolved", "closed"):
        return "-"
    due = [
        s["remaining_seconds"]
        for s in (incident.get("sla") or {}).values()
        if s and s.get("outcome") is None and s.get("remaining_seconds") is not None
    ]
    return _left(min(due)) if due else "-"


def _table(header: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> str:
    if not rows:
        return "no incidents"
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)

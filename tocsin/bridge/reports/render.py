"""The SLA report as JSON, CSV, a terminal table and an SVG chart of response times against targets."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from typing import Any

from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import CLOCKS
from tocsin.bridge.reports.figures import Breach, DurationStats, GroupStats, SlaReport, Unreached
from tocsin.bridge.reports.people import PersonStats, person_to_dict

FORMATS = ("table", "csv", "json")


def _duration(stats: DurationStats) -> dict[str, Any]:
    return {"count": stats.count, "median": stats.median, "p90": stats.p90, "max": stats.max}


def group_to_dict(group: GroupStats) -> dict[str, Any]:
    """Return one group's figures as JSON-ready values (durations in seconds, shares 0-1)."""
    return {
        "opened": group.opened,
        "acknowledged": group.acknowledged,
        "resolved": group.resolved,
        "time_to_acknowledge_seconds": _duration(group.time_to_acknowledge),
        "time_to_resolve_seconds": _duration(group.time_to_resolve),
        "clocks": {
            name: {
                "met": c.met,
                "breached": c.breached,
                "exempt": c.exempt,
                "running": c.running,
                "resolved_before_response": c.resolved_before_response,
                "within_target_ratio": c.within_target,
            }
            for name, c in group.clocks.items()
        },
        "breaches": group.breaches,
        "exemptions": group.exemptions,
        "resolved_before_response": group.clocks["response"].resolved_before_response,
        "escalations": group.escalations,
        "escalated_incidents": group.escalated_incidents,
        "major_incidents": group.major_incidents,
        "satisfaction": {
            "count": group.satisfaction.count,
            "mean": group.satisfaction.mean,
            "scores": {str(k): v for k, v in group.satisfaction.scores.items()},
            "by_reporter": group.satisfaction.by_reporter,
        },
    }


def breach_to_dict(breach: Breach) -> dict[str, Any]:
    """Return one breach as JSON-ready values."""
    return {
        "incident_id": breach.incident_id,
        "title": breach.title,
        "priority": breach.priority,
        "team": breach.team,
        "clock": breach.clock,
        "due_at": rfc3339(breach.due_at),
        "late_seconds": breach.late_seconds,
        "reason": breach.reason,
        "exempt": breach.exempt,
        "dispute": None
        if breach.dispute is None
        else {
            "reason": breach.dispute.reason,
            "by": breach.dispute.by,
            "at": rfc3339(breach.dispute.at),
            "decision": breach.dispute.decision,
            "decided_by": breach.dispute.decided_by,
            "decided_at": rfc3339(breach.dispute.decided_at),
            "note": breach.dispute.note,
        },
    }


def unreached_to_dict(page: Unreached) -> dict[str, Any]:
    """Return one escalation step that reached nobody as JSON-ready values."""
    return {
        "incident_id": page.incident_id,
        "title": page.title,
        "priority": page.priority,
        "team": page.team,
        "at": rfc3339(page.at),
        "targets": list(page.targets),
    }


def report_to_dict(report: SlaReport) -> dict[str, Any]:
    """Return the whole report as the JSON document the API and `--format json` give."""
    return {
        "since": rfc3339(report.since),
        "until": rfc3339(report.until),
        "generated_at": rfc3339(report.generated_at),
        "filters": dict(report.filters),
        "targets_seconds": {p: dict(t) for p, t in report.targets.items()},
        "total": group_to_dict(report.total),
        "by_priority": {k: group_to_dict(v) for k, v in report.by_priority.items()},
        "by_team": {k: group_to_dict(v) for k, v in report.by_team.items()},
        "breaches": [breach_to_dict(b) for b in report.breaches],
        "exemptions": [breach_to_dict(b) for b in report.exemptions],
        "unreached": [unreached_to_dict(u) for u in report.unreached],
        "weekly_trend": {
            priority: [
                {
                    "week_start": rfc3339(week.start),
                    "opened": week.opened,
                    "ack_median_seconds": week.ack_median,
                    "response_within_target_ratio": week.within_target,
                }
                for week in weeks
            ]
            for priority, weeks in report.trend.items()
        },
        "breaches_by_reason": [
            {"reason": r.reason, "count": r.count} for r in report.breach_reasons
        ],
        "by_person": [person_to_dict(row) for row in report.people],
    }


def to_json(report: SlaReport) -> str:
    """Render the report as indented JSON."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


def human_duration(seconds: float | None) -> str:
    """Format seconds the way people read them: 45s, 12m, 2h 05m, 3d 4h."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, _ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def percent(ratio: float | None) -> str:
    """Format a 0-1 share as a whole percentage, or '-' when nothing was decided."""
    return "-" if ratio is None else f"{ratio * 100:.0f}%"


COLUMNS: tuple[tuple[str, Callable[[GroupStats], str]], ...] = (
    ("opened", lambda g: str(g.opened)),
    ("ack med", lambda g: human_duration(g.time_to_acknowledge.median)),
    ("ack p90", lambda g: human_duration(g.time_to_acknowledge.p90)),
    ("ack max", lambda g: human_duration(g.time_to_acknowledge.max)),
    ("resolved", lambda g: str(g.resolved)),
    ("res med", lambda g: human_duration(g.time_to_resolve.median)),
    ("res p90", lambda g: human_duration(g.time_to_resolve.p90)),
    ("res max", lambda g: human_duration(g.time_to_resolve.max)),
    ("response", lambda g: percent(g.clocks["response"].within_target)),
    ("resolved before response", lambda g: str(g.clocks["response"].resolved_before_response)),
    ("update", lambda g: percent(g.clocks["update"].within_target)),
    ("resolution", lambda g: percent(g.clocks["resolution"].within_target)),
    ("breaches", lambda g: str(g.breaches)),
    ("exempt", lambda g: str(g.exemptions)),
    ("escalations", lambda g: str(g.escalations)),
    ("major", lambda g: str(g.major_incidents)),
    (
        "satisfaction",
        lambda g: "-" if g.satisfaction.mean is None else f"{g.satisfaction.mean:.1f}",
    ),
)


def _grid(title: str, groups: Mapping[str, GroupStats]) -> list[str]:
    header = [title, *(name for name, _ in COLUMNS)]
    rows = [[key, *(cell(g) for _, cell in COLUMNS)] for key, g in groups.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]


def _breach_lines(title: str, breaches: tuple[Breach, ...]) -> list[str]:
    lines = [f"{title} ({len(breaches)})"]
    for b in breaches:
        lines.append(
            f"  #{b.incident_id} {b.priority} {b.clock:<10} due {rfc3339(b.due_at)}  "
            f"late {human_duration(b.late_seconds):<8} {b.title}  reason: {b.reason or '(none recorded)'}"
        )
        if b.dispute is not None:
            decided = (
                f"{b.dispute.decision} by {b.dispute.decided_by}"
                if b.dispute.decision
                else "awaiting a manager's decision"
            )
            lines.append(f"    disputed by {b.dispute.by}: {b.dispute.reason} ({decided})")
    return lines


def to_table(report: SlaReport) -> str:
    """Render the report as aligned text for a terminal or an email body."""
    scope = ", ".join(f"{k}={v}" for k, v in report.filters.items())
    lines = [
        f"SLA report {rfc3339(report.since)} .. {rfc3339(report.until)}"
        + (f" ({scope})" if scope else ""),
        "Within target: share of decided clocks met; exempt breaches are not counted.",
        "Resolved before response: the sender resolved it before anyone responded; never met.",
        "",
        *_grid("priority", {**report.by_priority, "all": report.total}),
        "",
        *_grid("team", report.by_team),
        "",
        *_breach_lines("Breaches", report.breaches),
        "",
        *_breach_lines("Exempt breaches", report.exemptions),
        "",
        f"Breaches by reason ({len(report.breach_reasons)})",
        *(f"  {r.count:>4}  {r.reason}" for r in report.breach_reasons),
        "",
        "Weekly trend (weeks from Monday 00:00 UTC): opened, median time to acknowledge, "
        "response within target",
        *(
            f"  {priority:<8} {week.start:%Y-%m-%d}  {week.opened:>4}  "
            f"{human_duration(week.ack_median):>8}  {percent(week.within_target):>5}"
            for priority, weeks in report.trend.items()
            for week in weeks
        ),
        "",
        "By person: acknowledged, median and p90 time to acknowledge, breaches, "
        "escalations that reached them",
        *(
            f"  {p.person:<20} {p.acknowledged:>4}  {human_duration(p.ack_median_seconds):>8}  "
            f"{human_duration(p.ack_p90_seconds):>8}  {p.breaches:>4}  {p.escalations:>4}"
            for p in report.people
        ),
        "",
        f"Escalation steps that reached nobody ({len(report.unreached)})",
        *(
            f"  #{u.incident_id} {u.priority} at {rfc3339(u.at)}  {', '.join(u.targets)}  {u.title}"
            for u in report.unreached
        ),
    ]
    return "\n".join(lines) + "\n"


CSV_HEADER = (
    "kind",
    "key",
    "opened",
    "acknowledged",
    "resolved",
    "ack_median_seconds",
    "ack_p90_seconds",
    "ack_max_seconds",
    "resolve_median_seconds",
    "resolve_p90_seconds",
    "resolve_max_seconds",
    *(f"{clock}_within_target_ratio" for clock in CLOCKS),
    "breaches",
    "exemptions",
    "escalations",
    "major_incidents",
    "satisfaction_count",
    "satisfaction_mean",
    "resolved_before_response",
    "incident_id",
    "clock",
    "due_at",
    "late_seconds",
    "reason",
)


def _cell(value: float | int | str | None) -> str:
    return "" if value is None else str(value)


def _group_row(kind: str, key: str, g: GroupStats) -> list[str]:
    ack, res = g.time_to_acknowledge, g.time_to_resolve
    values: list[float | int | str | None] = [
        kind,
        key,
        g.opened,
        g.acknowledged,
        g.resolved,
        ack.median,
        ack.p90,
        ack.max,
        res.median,
        res.p90,
        res.max,
        *(g.clocks[clock].within_target for clock in CLOCKS),
        g.breaches,
        g.exemptions,
        g.escalations,
        g.major_incidents,
        g.satisfaction.count,
        g.satisfaction.mean,
        g.clocks["response"].resolved_before_response,
    ]
    return [_cell(v) for v in values] + [""] * 5


def _breach_row(kind: str, b: Breach) -> list[str]:
    row = [kind, b.priority] + [""] * (len(CSV_HEADER) - 7)
    return row + [
        str(b.incident_id),
        b.clock,
        rfc3339(b.due_at) or "",
        str(b.late_seconds),
        b.reason or "",
    ]


def to_csv(report: SlaReport) -> str:
    """Render the report as one CSV table: a `kind` column tells group rows from breach rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for key, group in report.by_priority.items():
        writer.writerow(_group_row("priority", key, group))
    for key, group in report.by_team.items():
        writer.writerow(_group_row("team", key, group))
    writer.writerow(_group_row("total", "all", report.total))
    for breach in report.breaches:
        writer.writerow(_breach_row("breach", breach))
    for breach in report.exemptions:
        writer.writerow(_breach_row("exemption", breach))
    for person in report.people:
        writer.writerow(_person_row(person))
    return out.getvalue()


def _person_row(p: PersonStats) -> list[str]:
    """A person's CSV row: key is their name; the acknowledgement and count columns are theirs."""
    row = dict.fromkeys(CSV_HEADER, "") | {
        "kind": "person",
        "key": p.person,
        "acknowledged": str(p.acknowledged),
        "ack_median_seconds": _cell(p.ack_median_seconds),
        "ack_p90_seconds": _cell(p.ack_p90_seconds),
        "breaches": str(p.breaches),
        "escalations": str(p.escalations),
    }
    return list(row.values())


def render(report: SlaReport, fmt: str) -> str:
    """Render the report in one of FORMATS."""
    renderers = {"table": to_table, "csv": to_csv, "json": to_json}
    return renderers[fmt](report)

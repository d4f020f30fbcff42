"""Apply parsed alerts to the stored alerts and incidents, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from bridge.clock import as_utc
from bridge.events import EventHook
from bridge.identity import fingerprint, group_key, group_labels
from bridge.incidents.lifecycle import is_open
from bridge.incidents.service import create_incident, find_open, resolve
from bridge.ingest.parse import Alert
from bridge.ingest.rules import Known, Outcome, decide
from bridge.policy.model import Policy, Route
from bridge.store.schema import alerts, incidents


@dataclass
class Applied:
    """How many alerts of a request did what."""

    accepted: int = 0
    opened: int = 0
    resolved: int = 0
    ignored: int = 0


def apply_alerts(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    batch: Sequence[Alert],
    now: datetime,
) -> Applied:
    """Store each alert by its identity: open, join, refresh or resolve incidents as they say."""
    applied = Applied()
    for alert in batch:
        applied.accepted += 1
        fp = fingerprint(alert.labels)
        row = conn.execute(
            select(
                alerts.c.id,
                alerts.c.incident_id,
                alerts.c.status,
                alerts.c.starts_at,
                alerts.c.ends_at,
                incidents.c.status.label("incident_status"),
            )
            .join(incidents, incidents.c.id == alerts.c.incident_id)
            .where(alerts.c.fingerprint == fp)
            .order_by(alerts.c.starts_at.desc(), alerts.c.id.desc())
            .limit(1)
        ).first()
        known = None
        if row is not None:
            known = Known(
                status=row.status,
                starts_at=as_utc(row.starts_at),
                ends_at=as_utc(row.ends_at) if row.ends_at else None,
                incident_open=is_open(row.incident_status),
            )
        outcome = decide(known, alert, now)
        if outcome is Outcome.OPEN:
            applied.opened += _open(conn, hooks, policy, alert, fp, now)
        elif outcome is Outcome.REFRESH and row is not None:
            _touch(conn, row.id, alert, now)
        elif outcome is Outcome.RESOLVE and row is not None:
            _touch(conn, row.id, alert, now, status="resolved", ends_at=alert.ends_at)
            applied.resolved += _maybe_resolve(conn, hooks, row.incident_id, now)
        else:
            applied.ignored += 1
    return applied


def _open(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    alert: Alert,
    fp: str,
    now: datetime,
) -> int:
    route = policy.route_for(alert.labels)
    key = group_key(alert.labels, route.group_by)
    incident_id = find_open(conn, key)
    created = incident_id is None
    if incident_id is None:
        incident_id = _new_incident(conn, hooks, route, alert, key, now)
    existing = conn.execute(
        select(alerts.c.id).where(alerts.c.fingerprint == fp, alerts.c.incident_id == incident_id)
    ).scalar()
    values = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "status": "firing",
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "last_received_at": now,
    }
    if existing is None:
        conn.execute(
            insert(alerts).values(
                incident_id=incident_id,
                fingerprint=fp,
                first_received_at=now,
                receive_count=1,
                **values,
            )
        )
    else:
        # The alert fired again while its group's incident stayed open: reuse its row.
        conn.execute(
            update(alerts)
            .where(alerts.c.id == existing)
            .values(receive_count=alerts.c.receive_count + 1, **values)
        )
    return int(created)


def _new_incident(
    conn: Connection,
    hooks: Sequence[EventHook],
    route: Route,
    alert: Alert,
    key: str,
    now: datetime,
) -> int:
    labels = alert.labels
    name = labels.get("alertname", "alert")
    host = labels.get("instance") or labels.get("host")
    title = alert.annotations.get("summary") or (f"{name} on {host}" if host else name)
    return create_incident(
        conn,
        hooks,
        now=now,
        title=title[:500],
        priority=route.priority,
        source="alert",
        key=key,
        labels=group_labels(labels, route.group_by),
        annotations=alert.annotations,
        summary=alert.annotations.get("summary", ""),
        description=alert.annotations.get("description", ""),
        service=labels.get(route.service_label),
        host=host,
        team=route.team,
        escalation_policy=route.escalation,
        auto_resolve=route.auto_resolve,
    )


def _touch(
    conn: Connection,
    alert_id: int,
    alert: Alert,
    now: datetime,
    **changes: object,
) -> None:
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id)
        .values(
            last_received_at=now,
            receive_count=alerts.c.receive_count + 1,
            annotations=alert.annotations,
            **changes,
        )
    )


def _maybe_resolve(
    conn: Connection, hooks: Sequence[EventHook], incident_id: int, now: datetime
) -> int:
    incident = conn.execute(
        select(incidents.c.status, incidents.c.auto_resolve).where(incidents.c.id == incident_id)
    ).one()
    if not incident.auto_resolve or not is_open(incident.status):
        return 0
    firing = conn.execute(
        select(func.count())
        .select_from(alerts)
        .where(alerts.c.incident_id == incident_id, alerts.c.status == "firing")
    ).scalar_one()
    if firing:
        return 0
    resolve(conn, hooks, incident_id, actor=None, now=now, reason="all alerts resolved")
    return 1

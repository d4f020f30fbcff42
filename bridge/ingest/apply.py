"""Apply parsed alerts to the stored alerts and incidents, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

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


# Statements built once: values travel as parameters, so SQLAlchemy's compiled cache is hit.
_INSERT_ALERT = insert(alerts)
_REFRESH = (
    update(alerts)
    .where(alerts.c.id == bindparam("_id"))
    .values(
        last_received_at=bindparam("_now"),
        receive_count=alerts.c.receive_count + 1,
        annotations=bindparam("_annotations"),
    )
)
_LATEST = select(
    alerts.c.id,
    alerts.c.fingerprint,
    alerts.c.incident_id,
    alerts.c.status,
    alerts.c.starts_at,
    alerts.c.ends_at,
    incidents.c.status.label("incident_status"),
).join(incidents, incidents.c.id == alerts.c.incident_id)


@dataclass
class _Stored:
    """The newest stored occurrence of one alert, kept current while a batch is applied."""

    id: int
    incident_id: int
    known: Known


def apply_alerts(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    batch: Sequence[Alert],
    now: datetime,
) -> Applied:
    """Store each alert by its identity: open, join, refresh or resolve incidents as they say."""
    applied = Applied()
    prints = [fingerprint(alert.labels) for alert in batch]
    latest = _latest(conn, set(prints))
    refreshes: list[dict[str, object]] = []
    for alert, fp in zip(batch, prints, strict=True):
        applied.accepted += 1
        stored = latest.get(fp)
        outcome = decide(stored.known if stored else None, alert, now)
        if outcome is Outcome.OPEN:
            incident_id, alert_id, created = _open(conn, hooks, policy, alert, fp, now)
            applied.opened += int(created)
            latest[fp] = _Stored(
                alert_id, incident_id, Known("firing", alert.starts_at, alert.ends_at, True)
            )
        elif outcome is Outcome.REFRESH and stored is not None:
            refreshes.append({"_id": stored.id, "_now": now, "_annotations": alert.annotations})
        elif outcome is Outcome.RESOLVE and stored is not None:
            _resolve_alert(conn, stored.id, alert, now)
            stored.known = Known("resolved", stored.known.starts_at, alert.ends_at, False)
            applied.resolved += _maybe_resolve(conn, hooks, stored.incident_id, now)
        else:
            applied.ignored += 1
    if refreshes:
        conn.execute(_REFRESH, refreshes)
    return applied


def _latest(conn: Connection, prints: set[str]) -> dict[str, _Stored]:
    """Return the newest stored occurrence of each fingerprint, in one query."""
    out: dict[str, _Stored] = {}
    rows = conn.execute(
        _LATEST.where(alerts.c.fingerprint.in_(sorted(prints))).order_by(
            alerts.c.starts_at, alerts.c.id
        )
    )
    for row in rows:
        out[row.fingerprint] = _Stored(
            id=row.id,
            incident_id=row.incident_id,
            known=Known(
                status=row.status,
                starts_at=as_utc(row.starts_at),
                ends_at=as_utc(row.ends_at) if row.ends_at else None,
                incident_open=is_open(row.incident_status),
            ),
        )
    return out


def _open(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    alert: Alert,
    fp: str,
    now: datetime,
) -> tuple[int, int, bool]:
    route = policy.route_for(alert.labels)
    key = group_key(alert.labels, route.group_by)
    incident_id = find_open(conn, key)
    created = incident_id is None
    if incident_id is None:
        incident_id = _new_incident(conn, hooks, route, alert, key, now)
    existing = (
        None
        if created
        else conn.execute(
            select(alerts.c.id).where(
                alerts.c.fingerprint == fp, alerts.c.incident_id == incident_id
            )
        ).scalar()
    )
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
        result = conn.execute(
            _INSERT_ALERT,
            {
                "incident_id": incident_id,
                "fingerprint": fp,
                "first_received_at": now,
                "receive_count": 1,
                **values,
            },
        )
        return incident_id, int(result.inserted_primary_key[0]), created  # type: ignore[index]
    # The alert fired again while its group's incident stayed open: reuse its row.
    conn.execute(
        update(alerts)
        .where(alerts.c.id == existing)
        .values(receive_count=alerts.c.receive_count + 1, **values)
    )
    return incident_id, int(existing), created


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


def _resolve_alert(conn: Connection, alert_id: int, alert: Alert, now: datetime) -> None:
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id)
        .values(
            status="resolved",
            ends_at=alert.ends_at,
            last_received_at=now,
            receive_count=alerts.c.receive_count + 1,
            annotations=alert.annotations,
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

"""Open or join incidents for many firing alerts at once: a handful of round trips per batch.

A request of new alerts costs a constant number of statements, not several per alert: one read
of the groups' open incidents, one insert of the new incidents (and one of their events, whose
hooks write clocks and timers in bulk), one read of rows to reuse, one insert of alert rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.service import insert_incidents, record_opened
from tocsin.bridge.ingest.identity import group_labels
from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.policy.model import Route
from tocsin.bridge.store.bulk import insert_rows
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import alerts, incidents

# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statements.
_OPEN_BY_KEY = select(incidents.c.id, incidents.c.open_key).where(
    in_list(incidents.c.open_key, "keys")
)
_REUSABLE = (
    select(alerts.c.id, alerts.c.fingerprint, alerts.c.incident_id)
    .where(
        in_list(alerts.c.incident_id, "incident_ids"),
        in_list(alerts.c.fingerprint, "prints"),
    )
    .order_by(alerts.c.id)
)
_REFIRE = (
    update(alerts)
    .where(alerts.c.id == bindparam("_id"))
    .values(
        receive_count=alerts.c.receive_count + 1,
        labels=bindparam("_labels"),
        annotations=bindparam("_annotations"),
        status="firing",
        starts_at=bindparam("_starts_at"),
        ends_at=bindparam("_ends_at"),
        generator_url=bindparam("_generator_url"),
        last_received_at=bindparam("_now"),
    )
)


@dataclass
class Opening:
    """A firing alert that opens its group's incident or joins it; ids are set by open_all()."""

    alert: Alert
    fingerprint: str
    route: Route
    key: str
    owner: int = 0  # which of the requests applied together sent it
    incident_id: int = 0
    alert_id: int = 0
    created: bool = False  # it opened its incident


def open_all(
    conn: Connection, hooks: Sequence[EventHook], openings: Sequence[Opening], now: datetime
) -> int:
    """Store every opening alert (fingerprints distinct); return how many incidents it opened."""
    if not openings:
        return 0
    keys = sorted({item.key for item in openings})
    found = {row.open_key: int(row.id) for row in conn.execute(_OPEN_BY_KEY, {"keys": keys})}
    first_of_key: dict[str, Opening] = {}
    for item in openings:
        if item.key not in found:
            first_of_key.setdefault(item.key, item)
    opened = insert_incidents(
        conn, now=now, source="alert", specs=[_spec(item) for item in first_of_key.values()]
    )
    created = [incident_id for incident_id, _ in opened]
    new_ids = set(created)
    found.update(zip(first_of_key, created, strict=True))
    for item in first_of_key.values():
        item.created = True
    for item in openings:
        item.incident_id = found[item.key]
    reuse = _reusable(conn, [item for item in openings if item.incident_id not in new_ids])
    inserts = [item for item in openings if (item.fingerprint, item.incident_id) not in reuse]
    if inserts:
        rows = [_row(item, now) for item in inserts]
        # Fingerprints are distinct among the inserted rows: ids are matched by fingerprint.
        inserted = insert_rows(conn, alerts, rows, returning=("id", "fingerprint"))
        ids = {row.fingerprint: int(row.id) for row in inserted}
        for item in inserts:
            item.alert_id = ids[item.fingerprint]
    refired = [item for item in openings if (item.fingerprint, item.incident_id) in reuse]
    if refired:
        # The alert fired again while its group's incident stayed open: reuse its row.
        for item in refired:
            item.alert_id = reuse[(item.fingerprint, item.incident_id)]
        conn.execute(_REFIRE, [_refire(item, now) for item in refired])
    # Recorded once the alerts are in: the opening event's pages carry the incident's alerts.
    record_opened(conn, hooks, opened, now=now, source="alert")
    return len(created)


def _reusable(conn: Connection, joining: Sequence[Opening]) -> dict[tuple[str, int], int]:
    """Return the stored rows of joining alerts in their incidents, by (fingerprint, incident)."""
    if not joining:
        return {}
    params = {
        "incident_ids": sorted({item.incident_id for item in joining}),
        "prints": sorted({item.fingerprint for item in joining}),
    }
    out: dict[tuple[str, int], int] = {}
    for row in conn.execute(_REUSABLE, params):
        out.setdefault((row.fingerprint, int(row.incident_id)), int(row.id))
    return out


def alert_title(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """Return an incident's title from its alert: the summary, naming the host if it does not."""
    name = labels.get("alertname", "alert")
    host = labels.get("instance") or labels.get("host")
    text = annotations.get("summary") or name
    return (f"{text} on {host}" if host and host not in text else text)[:500]


def followed_title(
    current: str,
    edited: bool,
    labels: Mapping[str, str],
    before: Mapping[str, str],
    after: Mapping[str, str],
) -> str | None:
    """Return the title an incident takes from its alert's new text, or None to keep its own.

    The title follows the alert it was made from (its title is still that alert's text) while no
    person edited it; an incident grouping many alerts keeps the text of the one that named it.
    """
    if edited:
        return None
    title = alert_title(labels, after)
    if title == current or alert_title(labels, before) != current:
        return None
    return title


def _spec(item: Opening) -> dict[str, Any]:
    labels = item.alert.labels
    annotations = item.alert.annotations
    host = labels.get("instance") or labels.get("host")
    return {
        "key": item.key,
        "title": alert_title(labels, annotations),
        "priority": item.route.priority,
        "labels": group_labels(labels, item.route.group_by),
        "annotations": annotations,
        "summary": annotations.get("summary", ""),
        "description": annotations.get("description", ""),
        "service": labels.get(item.route.service_label),
        "host": host,
        # The route's team, else the sender's (an agent's `team` label).
        "team": item.route.team or labels.get("team"),
        "escalation_policy": item.route.escalation,
        "auto_resolve": item.route.auto_resolve,
    }


def _row(item: Opening, now: datetime) -> dict[str, Any]:
    alert = item.alert
    return {
        "incident_id": item.incident_id,
        "fingerprint": item.fingerprint,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "status": "firing",
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "first_received_at": now,
        "last_received_at": now,
        "receive_count": 1,
    }


def _refire(item: Opening, now: datetime) -> dict[str, Any]:
    alert = item.alert
    return {
        "_id": item.alert_id,
        "_labels": alert.labels,
        "_annotations": alert.annotations,
        "_starts_at": alert.starts_at,
        "_ends_at": alert.ends_at,
        "_generator_url": alert.generator_url,
        "_now": now,
    }

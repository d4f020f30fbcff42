"""Apply parsed alerts to the stored alerts and incidents, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, bindparam, case, func, select, update

from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.lifecycle import is_open
from tocsin.bridge.incidents.retitle import Retitle, follow_alert_text
from tocsin.bridge.incidents.service import resolve
from tocsin.bridge.ingest.identity import fingerprint, group_key
from tocsin.bridge.ingest.opening import Opening, alert_title, followed_title, open_all
from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.ingest.rules import STORED, Known, Outcome, decide
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.platform.config import DEFAULT_SKEW_TOLERANCE
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import alerts, incidents


class HoldSession(Protocol):
    """One batch's view of the maintenance windows open now (tocsin.bridge.maintenance)."""

    def hold(self, alert: Alert, fingerprint: str) -> bool:
        """Keep a new firing alert back if a window covers it; return whether it did."""

    def resolved(self, alert: Alert, fingerprint: str) -> None:
        """Note the resolve of an alert that may be held back."""


class Hold(Protocol):
    """Opens a HoldSession in the batch's transaction, only when a batch opens something."""

    def session(self, conn: Connection, now: datetime) -> HoldSession:
        """Return the windows' view for one batch."""

    def covered_until(
        self, conn: Connection, labels: Mapping[str, str], now: datetime
    ) -> datetime | None:
        """Return the end of the window covering these labels now, if one does."""


@dataclass
class Applied:
    """What a request's alerts did: incidents opened and resolved, and each alert's outcome."""

    accepted: int = 0
    opened: int = 0  # incidents opened
    resolved: int = 0  # incidents resolved
    ignored: int = 0  # alerts that changed nothing: stale or unknown resolves
    outcomes: dict[Outcome, int] = field(default_factory=dict)
    unstored: list[tuple[int, Outcome]] = field(default_factory=list)  # (position, outcome)

    def note(self, position: int, outcome: Outcome) -> None:
        """Count the outcome of the request's alert at `position`."""
        self.accepted += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome not in STORED:
            self.unstored.append((position, outcome))
            self.ignored += outcome not in (Outcome.DUPLICATE, Outcome.MAINTENANCE)


# Statements built once: values travel as parameters, so SQLAlchemy's compiled cache is hit.
_REFRESH = (
    update(alerts)
    .where(alerts.c.id == bindparam("_id"))
    .values(
        last_received_at=bindparam("_now"),
        receive_count=alerts.c.receive_count + 1,
        annotations=bindparam("_annotations"),
    )
)
# A refresh with a later startsAt keeps it as the episode's latest, so a late resolve of an
# earlier episode is recognised as stale whatever order the messages came in.
_STARTS = bindparam("_starts_at", type_=alerts.c.starts_at.type)
_REFRESH_LATER = _REFRESH.values(
    starts_at=case((alerts.c.starts_at < _STARTS, _STARTS), else_=alerts.c.starts_at)
)
_LATEST = (
    select(
        alerts.c.id,
        alerts.c.fingerprint,
        alerts.c.incident_id,
        alerts.c.status,
        alerts.c.starts_at,
        alerts.c.ends_at,
        alerts.c.annotations,
        incidents.c.status.label("incident_status"),
        incidents.c.title,
        incidents.c.title_edited_by,
    )
    .join(incidents, incidents.c.id == alerts.c.incident_id)
    .where(in_list(alerts.c.fingerprint, "prints"))
    # The newest occurrence is the last row stored, whatever the senders' clocks said.
    .order_by(alerts.c.id)
)

_RESOLVE_ALERT = (
    update(alerts)
    .where(alerts.c.id == bindparam("_id"))
    .values(
        status="resolved",
        ends_at=bindparam("_ends_at"),
        last_received_at=bindparam("_now"),
        receive_count=alerts.c.receive_count + 1,
        annotations=bindparam("_annotations"),
    )
)
_AUTO_RESOLVE = select(incidents.c.status, incidents.c.auto_resolve).where(
    incidents.c.id == bindparam("_id")
)
_FIRING = (
    select(func.count())
    .select_from(alerts)
    .where(alerts.c.incident_id == bindparam("_id"), alerts.c.status == "firing")
)


@dataclass
class _Stored:
    """The newest stored occurrence of one alert, kept current while a batch is applied."""

    id: int
    incident_id: int
    known: Known
    annotations: Mapping[str, str] = field(default_factory=dict)  # as last stored
    title: str = ""  # its incident's title
    edited: bool = False  # a person edited that title


def apply_alerts(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    batch: Sequence[Alert],
    now: datetime,
    tolerance: timedelta = DEFAULT_SKEW_TOLERANCE,
    hold: Hold | None = None,
) -> Applied:
    """Store each alert by its identity: open, join, refresh or resolve incidents as they say."""
    return apply_batches(conn, hooks, policy, [batch], now, tolerance, hold)[0]


def apply_batches(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    batches: Sequence[Sequence[Alert]],
    now: datetime,
    tolerance: timedelta = DEFAULT_SKEW_TOLERANCE,
    hold: Hold | None = None,
) -> list[Applied]:
    """Apply several requests' alerts together, as if one after the other; count each apart.

    Opening alerts are gathered and stored together; the gathered ones are stored before an
    alert that resolves or repeats one of them, so the outcome is as if applied one by one.
    A new firing alert that a maintenance window covers is held back instead of opening.
    """
    session: HoldSession | None = None
    counts = [Applied() for _ in batches]
    owned = [
        (n, position, alert)
        for n, batch in enumerate(batches)
        for position, alert in enumerate(batch)
    ]
    prints = [fingerprint(alert.labels) for _, _, alert in owned]
    latest = _latest(conn, set(prints))
    refreshes: list[dict[str, object]] = []
    retitles: list[Retitle] = []
    openings: dict[str, Opening] = {}
    for (owner, position, alert), fp in zip(owned, prints, strict=True):
        applied = counts[owner]
        if fp in openings:
            _open(conn, hooks, openings, latest, now, counts, refreshes)
        stored = latest.get(fp)
        outcome = decide(stored.known if stored else None, alert, tolerance)
        if hold is not None and outcome in (Outcome.OPENED, Outcome.UNKNOWN_RESOLVE):
            session = session or hold.session(conn, now)
            if outcome is Outcome.UNKNOWN_RESOLVE:
                session.resolved(alert, fp)
            elif session.hold(alert, fp):
                outcome = Outcome.MAINTENANCE
        applied.note(position, outcome)
        if outcome is Outcome.MAINTENANCE:
            continue
        if outcome is Outcome.OPENED:
            route = policy.route_for(alert.labels)
            key = group_key(alert.labels, route.group_by, fp)
            openings[fp] = Opening(alert, fp, route, key, owner=owner)
        elif stored is None:
            continue
        elif outcome is Outcome.REFRESHED or outcome is Outcome.DUPLICATE:
            params = {"_id": stored.id, "_now": now, "_annotations": alert.annotations}
            known = stored.known
            if outcome is Outcome.REFRESHED and alert.starts_at > known.starts_at:
                params["_starts_at"] = alert.starts_at
                stored.known = replace(known, starts_at=alert.starts_at)
            refreshes.append(params)
            if outcome is Outcome.REFRESHED and known.incident_open:
                _follow(stored, alert, retitles)
        elif outcome is Outcome.RESOLVED:
            _open(conn, hooks, openings, latest, now, counts, refreshes)
            _resolve_alert(conn, stored.id, alert, now)
            stored.known = Known("resolved", stored.known.starts_at, alert.ends_at, False)
            applied.resolved += _maybe_resolve(conn, hooks, stored.incident_id, now)
    _open(conn, hooks, openings, None, now, counts, refreshes)  # no alert follows to read them
    _refresh(conn, refreshes)
    if retitles:
        follow_alert_text(conn, hooks, retitles, now)
    return counts


def _follow(stored: _Stored, alert: Alert, retitles: list[Retitle]) -> None:
    """Note a retitle if a resend changed the text its incident's title was made from."""
    before, after = stored.annotations, alert.annotations
    if before == after:
        return  # the usual resend: nothing to compare further
    stored.annotations = after
    title = followed_title(stored.title, stored.edited, alert.labels, before, after)
    if title is None:
        return
    retitles.append(
        Retitle(
            stored.incident_id,
            stored.title,
            title,
            after.get("summary", ""),
            after.get("description", ""),
        )
    )
    stored.title = title


def _open(
    conn: Connection,
    hooks: Sequence[EventHook],
    openings: dict[str, Opening],
    latest: dict[str, _Stored] | None,
    now: datetime,
    counts: list[Applied],
    refreshes: list[dict[str, object]],
) -> None:
    """Store the gathered opening alerts, note them as the newest occurrences, and forget them.

    `latest` is None when no alert of the batches is left to read them.
    """
    if not openings:
        return
    _refresh(conn, refreshes)  # first: an opening may fire again a row refreshed before it
    open_all(conn, hooks, list(openings.values()), now)
    for fp, item in openings.items():
        counts[item.owner].opened += int(item.created)
        if latest is not None:
            known = Known("firing", item.alert.starts_at, item.alert.ends_at, True)
            # A new incident's title is its alert's text; a joined one's is not known here.
            title = alert_title(item.alert.labels, item.alert.annotations) if item.created else ""
            latest[fp] = _Stored(
                item.alert_id, item.incident_id, known, item.alert.annotations, title
            )
    openings.clear()


def _refresh(conn: Connection, refreshes: list[dict[str, object]]) -> None:
    """Store the gathered refreshes and forget them; most keep their startsAt (cheaper)."""
    if not refreshes:
        return
    later = [params for params in refreshes if "_starts_at" in params]
    if len(later) < len(refreshes):
        conn.execute(_REFRESH, [params for params in refreshes if "_starts_at" not in params])
    if later:
        conn.execute(_REFRESH_LATER, later)
    refreshes.clear()


def _latest(conn: Connection, prints: set[str]) -> dict[str, _Stored]:
    """Return the newest stored occurrence of each fingerprint, in one query."""
    out: dict[str, _Stored] = {}
    for row in conn.execute(_LATEST, {"prints": sorted(prints)}):
        out[row.fingerprint] = _Stored(
            id=row.id,
            incident_id=row.incident_id,
            known=Known(
                status=row.status,
                starts_at=as_utc(row.starts_at),
                ends_at=as_utc(row.ends_at) if row.ends_at else None,
                incident_open=is_open(row.incident_status),
            ),
            annotations=row.annotations or {},
            title=row.title,
            edited=row.title_edited_by is not None,
        )
    return out


def _resolve_alert(conn: Connection, alert_id: int, alert: Alert, now: datetime) -> None:
    conn.execute(
        _RESOLVE_ALERT,
        {
            "_id": alert_id,
            "_ends_at": alert.ends_at,
            "_now": now,
            "_annotations": alert.annotations,
        },
    )


def _maybe_resolve(
    conn: Connection, hooks: Sequence[EventHook], incident_id: int, now: datetime
) -> int:
    incident = conn.execute(_AUTO_RESOLVE, {"_id": incident_id}).one()
    if not incident.auto_resolve or not is_open(incident.status):
        return 0
    if conn.execute(_FIRING, {"_id": incident_id}).scalar_one():
        return 0
    resolve(conn, hooks, incident_id, actor=None, now=now, reason="all alerts resolved")
    return 1

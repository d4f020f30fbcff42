"""Queue notifications in the caller's transaction: the Pager for escalations, a hook for subscriptions.

Each row carries everything its delivery needs, rendered now: the contract's event JSON and the
page. A person paged gets mail at their address and a message on each of their channels, each
with an acknowledge link signed for them; a subscribed channel gets every event it asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select

from bridge import kb
from bridge.clock import as_utc, rfc3339
from bridge.events import Event
from bridge.incidents.serialize import alerts_json, incident_json
from bridge.notify import queue
from bridge.notify.links import DEFAULT_TTL, ack_url, sign_ack
from bridge.notify.message import PastResolution, SimilarFinder, build_message, event_detail
from bridge.policy.model import Policy, Target
from bridge.store.schema import events

log = logging.getLogger(__name__)
SIMILAR_LIMIT = 3
# Past fixes help whoever must act; other events (notes, closes) skip the knowledge-base scan.
SIMILAR_EVENTS = frozenset(
    {"incident.triggered", "incident.escalated", "incident.sla_warning", "incident.sla_breached"}
)


def kb_resolutions(conn: Connection, incident: Mapping[str, Any]) -> list[PastResolution]:
    """Return how past incidents of the same alert on the same service were resolved."""
    return [
        PastResolution(
            incident_id=match.entry.id,
            title=match.entry.title,
            root_cause=match.entry.root_cause,
            solution=match.entry.solution,
            resolved_at=rfc3339(match.entry.resolved_at),
        )
        for match in kb.same_alert(conn, int(incident["id"]), limit=SIMILAR_LIMIT)
    ]


def event_body(event: Event, incident: Mapping[str, Any]) -> dict[str, Any]:
    """Return the webhook contract: {"event", "occurred_at", "incident", "sla"?}."""
    body: dict[str, Any] = {
        "event": event.kind,
        "occurred_at": rfc3339(event.occurred_at),
        "incident": dict(incident),
    }
    sla = event.data.get("sla")
    if isinstance(sla, Mapping):
        sla = sla.get("clock") or sla.get("name")
    if sla:
        body["sla"] = str(sla)
    return body


class Outbox:
    """Writes outbox rows: `page` implements the Pager protocol, `hook` is an EventHook."""

    def __init__(
        self,
        policy: Policy,
        *,
        public_url: str | None,
        secret_key: bytes | None,
        link_ttl: timedelta = DEFAULT_TTL,
        similar: SimilarFinder | None = kb_resolutions,
    ) -> None:
        self.policy = policy
        self.public_url = public_url
        self.secret_key = secret_key
        self.link_ttl = link_ttl
        self.similar = similar

    def hook(self, conn: Connection, event: Event) -> None:
        """Queue the event for every channel subscribed to it."""
        channels = [c.name for c in self.policy.channels.values() if c.subscribes_to(event.kind)]
        if channels:
            self._queue(conn, event, [(name, None, None) for name in channels])

    def page(
        self,
        conn: Connection,
        *,
        incident_id: int,
        event_id: int,
        targets: Sequence[Target],
        now: datetime,
    ) -> None:
        """Queue a page for each person (mail and their channels) and each channel targeted."""
        places: list[tuple[str, str | None, str | None]] = []
        for target in targets:
            if target.kind == "channel" and target.name in self.policy.channels:
                places.append((target.name, None, None))
            elif target.kind == "person" and target.name in self.policy.people:
                person = self.policy.people[target.name]
                if person.email:
                    places.append((queue.MAILTO + person.email, person.name, person.email))
                places.extend((channel, person.name, None) for channel in person.channels)
            else:
                log.warning("page for incident %s: cannot page %s, skipped", incident_id, target)
        if places:
            self._queue(conn, _load_event(conn, event_id), places, now=now)

    def _queue(
        self,
        conn: Connection,
        event: Event,
        places: Sequence[tuple[str, str | None, str | None]],
        now: datetime | None = None,
    ) -> None:
        at = now or event.occurred_at
        incident = incident_json(
            conn, event.incident_id, at, detail=False, calendars=self.policy.calendars
        )
        incident["alerts"] = alerts_json(conn, event.incident_id)  # the timeline is not sent
        similar = (
            self.similar(conn, incident) if self.similar and event.kind in SIMILAR_EVENTS else ()
        )
        body = event_body(event, incident)
        priority = self.policy.priorities.get(str(incident.get("priority")))
        links: dict[str, str | None] = {}
        for channel, person, address in places:
            if person is not None and person not in links:
                links[person] = self._ack_link(incident, person, at)
            message = build_message(
                incident,
                event=event.kind,
                now=at,
                priority_name=priority.name if priority else "",
                public_url=self.public_url,
                ack_url=links.get(person) if person else None,
                detail=event_detail(event.kind, event.data, event.actor),
                similar=similar,
                calendars=self.policy.calendars,
            )
            payload = {
                "body": body,
                "message": message.to_json(),
                "to": [address] if address else [],
            }
            queue.enqueue(
                conn,
                event_id=event.id,
                incident_id=event.incident_id,
                channel=channel,
                recipient=person,
                payload=payload,
                now=at,
            )

    def _ack_link(self, incident: Mapping[str, Any], person: str, now: datetime) -> str | None:
        """Return a signed acknowledge link while there is something to acknowledge."""
        if incident.get("status") != "triggered" or not self.secret_key or not self.public_url:
            return None
        token = sign_ack(
            self.secret_key,
            incident_id=int(incident["id"]),
            person=person,
            now=now,
            ttl=self.link_ttl,
        )
        return ack_url(self.public_url, token)


_EVENT = select(events).where(events.c.id == bindparam("id"))


def _load_event(conn: Connection, event_id: int) -> Event:
    row = conn.execute(_EVENT, {"id": event_id}).one()
    return Event(
        id=int(row.id),
        incident_id=int(row.incident_id),
        kind=row.kind,
        actor=row.actor,
        occurred_at=as_utc(row.occurred_at),
        data=row.data or {},
    )

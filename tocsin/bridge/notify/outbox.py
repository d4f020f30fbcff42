"""Queue notifications in the caller's transaction: the Pager for escalations, a hook for subscriptions.

A subscription's row carries everything its delivery needs, rendered now: the contract's event
JSON (the incident as it was when the event happened) and the message. A page's row carries
only where it goes and which event it tells of; the delivery worker renders it when it leaves
(render_pages), with the time left as it stood when it was queued, so a storm's transaction
does not build thousands of messages while senders wait for its commit. A person paged gets
mail at their address and a message on each of their channels, each with an acknowledge link
signed for them; a subscribed channel gets every event it asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from tocsin.bridge.incidents.events import Event
from tocsin.bridge.incidents.serialize import (
    PRIVATE_FIELDS,
    alerts_by_incident,
    incidents_by_id,
    incidents_json,
)
from tocsin.bridge.kb import search as kb
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.fold import Folding
from tocsin.bridge.notify.links import DEFAULT_TTL, ack_url, sign_ack
from tocsin.bridge.notify.message import PastResolution, SimilarFinder, build_message
from tocsin.bridge.notify.personal import PersonalRules
from tocsin.bridge.notify.wording import event_detail, language_of
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.policy.model import EMAIL, PHONE_PROVIDERS, Person, Policy, Target
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import events

log = logging.getLogger(__name__)
SIMILAR_LIMIT = 3


class Place(NamedTuple):
    """Where a page or notification goes: a channel (or mailto:ADDRESS), to whom, at what address.

    `address` is a mail address or, for sms and voice channels, a phone number; `step` is the
    person's rule step this page is (see tocsin.bridge.notify.personal), if it is one.
    """

    channel: str
    person: str | None
    address: str | None
    step: int | None = None


# Past fixes help whoever must act; other events (notes, closes) skip the knowledge-base scan.
SIMILAR_EVENTS = frozenset(
    {"incident.triggered", "incident.escalated", "incident.sla_warning", "incident.sla_breached"}
)


def kb_resolutions(
    conn: Connection, incident: Mapping[str, Any], memo: dict[Any, Any] | None = None
) -> list[PastResolution]:
    """Return how past incidents of the same alert on the same service were resolved."""
    return [
        PastResolution(
            incident_id=match.entry.id,
            title=match.entry.title,
            root_cause=match.entry.root_cause,
            solution=match.entry.solution,
            resolved_at=rfc3339(match.entry.resolved_at),
        )
        for match in kb.same_alert_of(conn, incident, limit=SIMILAR_LIMIT, memo=memo)
    ]


def event_body(event: Event, incident: Mapping[str, Any]) -> dict[str, Any]:
    """Return the webhook contract: {"event", "occurred_at", "incident", "sla"?}."""
    body: dict[str, Any] = {
        "event": event.kind,
        "occurred_at": rfc3339(event.occurred_at),
        "incident": incident,  # not copied: nothing changes a page's incident once shown
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
        self.hook = Subscriptions(self)
        self.personal = PersonalRules(self)
        self.folding = Folding(self)

    def subscribed(self, conn: Connection, events: Sequence[Event]) -> None:
        """Queue each event for every channel subscribed to it; events of one instant together."""
        by_time: dict[datetime, list[tuple[Event, Sequence[Place]]]] = {}
        channels = self.policy.channels.values()
        for event in events:
            places = [Place(c.name, None, None) for c in channels if c.subscribes_to(event.kind)]
            if places:
                by_time.setdefault(event.occurred_at, []).append((event, places))
        for at, items in by_time.items():
            self.write(conn, items, at)

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
        self.page_many(conn, [(incident_id, event_id, targets)], now)

    def page_many(
        self, conn: Connection, pages: Sequence[tuple[int, int, Sequence[Target]]], now: datetime
    ) -> None:
        """Queue the pages of many events (incident id, event id, targets): one read per table.

        Escalation calls this when a burst of new incidents pages at once.
        """
        ruled = self.personal.priorities(conn, pages)
        wanted = [
            (event_id, self._places(conn, incident_id, event_id, targets, ruled, now))
            for incident_id, event_id, targets in pages
        ]
        wanted = [(event_id, places) for event_id, places in wanted if places]
        if wanted:
            found = _load_events(conn, [event_id for event_id, _ in wanted])
            items = [(found[event_id], places) for event_id, places in wanted]
            self.write(conn, items, now, paged=True)

    def _places(
        self,
        conn: Connection,
        incident_id: int,
        event_id: int,
        targets: Sequence[Target],
        priorities: Mapping[int, str],
        now: datetime,
    ) -> list[Place]:
        """Return where targets are reached now; a person's rule may plan later steps too.

        `priorities` holds the priority of each incident that pages someone with rules.
        """
        places: list[Place] = []
        for target in targets:
            if target.kind == "channel" and target.name in self.policy.channels:
                places.append(Place(target.name, None, None))
            elif target.kind == "person" and target.name in self.policy.people:
                person = self.policy.people[target.name]
                priority = priorities.get(incident_id)
                if priority is not None and person.rule_for(priority) is not None:
                    places.extend(
                        self.personal.page(conn, incident_id, event_id, person, priority, now)
                    )
                    continue
                if person.email:
                    places.append(self.place(person, EMAIL))
                places.extend(self.place(person, channel) for channel in person.channels)
            else:
                log.warning("page for incident %s: cannot page %s, skipped", incident_id, target)
        return places

    def event(self, conn: Connection, event_id: int) -> Event | None:
        """Return a stored event: a later rule step pages about the event that paged."""
        return _load_events(conn, [event_id]).get(event_id)

    @staticmethod
    def stale(event: Event) -> tuple[str, ...]:
        """Return the incident statuses in which a page for this event no longer helps."""
        return stale_when(event)

    def place(self, person: Person, via: str, step: int | None = None) -> Place:
        """Return where one method (a channel, or EMAIL) reaches a person."""
        if via == EMAIL:
            return Place(queue.MAILTO + str(person.email), person.name, person.email, step)
        return Place(via, person.name, person.phone if self.phoned(via) else None, step)

    def write(
        self,
        conn: Connection,
        items: Sequence[tuple[Event, Sequence[Place]]],
        at: datetime,
        *,
        paged: bool = False,
    ) -> None:
        """Write the rows of events to their places, reading each incident table once for all.

        A page (not a subscription) records the incident statuses that make it stale, so the
        worker drops it (or sends a short notice) if the incident got there before it left.
        A page to a phone past its person's `phone_limit` is folded (tocsin.bridge.notify.fold).
        """
        if paged:
            items = self.folding.admit(conn, items, at)
            pages = [page for event, places in items for page in _pages(event, places, at)]
            queue.enqueue_many(conn, pages)
            return
        rows: list[dict[str, Any]] = []
        memo: dict[Any, Any] = {}  # past resolutions' candidates, read once per alert and service
        for event, incident, places in self._incidents(conn, items, at):
            payloads = self._payloads(conn, event, incident, places, at, memo)
            rows.extend(
                queue.outbox_row(key=_key(event.id, channel, person, step), channel=channel,
                                 payload=payload, now=at, recipient=person, event_id=event.id,
                                 incident_id=event.incident_id)
                for (channel, person, _, step), payload in zip(places, payloads, strict=True)
            )  # fmt: skip
        queue.enqueue_many(conn, rows)

    def render_pages(self, conn: Connection, rows: Sequence[queue.Row]) -> dict[int, Any]:
        """Return, by row id, the payloads of claimed pages queued unrendered (see write).

        A page whose event or incident no longer exists is left out: it cannot be rendered.
        """
        waiting = [row for row in rows if RENDER in row.payload and row.event_id is not None]
        events = _load_events(conn, sorted({int(row.event_id or 0) for row in waiting}))
        by_time: dict[datetime, dict[int, list[queue.Row]]] = {}
        for row in waiting:
            if row.event_id in events:
                by_event = by_time.setdefault(row.created_at, {})
                by_event.setdefault(int(row.event_id), []).append(row)
        rendered: dict[int, Any] = {}
        memo: dict[Any, Any] = {}
        for at, by_event in by_time.items():
            items = [(events[event_id], [_place(row) for row in pages])
                     for event_id, pages in by_event.items()]  # fmt: skip
            for event, incident, places in self._incidents(conn, items, at):
                built = self._payloads(conn, event, incident, places, at, memo)
                for row, payload in zip(by_event[event.id], built, strict=True):
                    payload["stale_when"] = row.payload["stale_when"]
                    rendered[row.id] = payload
        return rendered

    def _incidents(
        self,
        conn: Connection,
        items: Sequence[tuple[Event, Sequence[Place]]],
        at: datetime,
    ) -> list[tuple[Event, dict[str, Any], Sequence[Place]]]:
        """Return each event with its incident as channels see it at `at`, read once for all.

        Events whose incident no longer exists (removed by retention) are left out.
        """
        ids = {event.incident_id for event, _ in items}
        found = incidents_by_id(conn, [i for i in ids if i is not None], missing_ok=True)
        shown = incidents_json(conn, list(found.values()), at, self.policy.calendars)
        alerts = alerts_by_incident(conn, list(found))  # the timeline is not sent
        incidents = {}
        for incident_id, incident in zip(found, shown, strict=True):
            for private in PRIVATE_FIELDS:
                del incident[private]
            incident["alerts"] = alerts[incident_id]
            incidents[incident_id] = incident
        return [
            (event, incidents[event.incident_id], places)
            for event, places in items
            if event.incident_id in incidents
        ]

    def _payloads(
        self,
        conn: Connection,
        event: Event,
        incident: Mapping[str, Any],
        places: Sequence[Place],
        at: datetime,
        memo: dict[Any, Any],
    ) -> list[dict[str, Any]]:
        """Return the payloads of one event's outbox rows: a message per place, with its ack link."""
        similar = (
            self.similar(conn, incident, memo)
            if self.similar and event.kind in SIMILAR_EVENTS
            else ()
        )
        body = event_body(event, incident)
        priority = self.policy.priorities.get(str(incident.get("priority")))
        links: dict[str, str | None] = {}
        details: dict[str, str] = {}
        messages: dict[tuple[str | None, str, str | None], dict[str, Any]] = {}
        payloads = []
        for channel, person, address, step in places:
            if person is not None and person not in links:
                links[person] = self._ack_link(incident, person, at)
            language, zone = self.reader(channel, person)
            ack = links.get(person) if person else None
            # Places that read alike (a channel's pages, a person's channels) share one message.
            message = messages.get((ack, language, zone))
            if message is None:
                if language not in details:
                    details[language] = event_detail(event.kind, event.data, event.actor, language)
                message = build_message(
                    incident,
                    event=event.kind,
                    now=at,
                    priority_name=priority.name if priority else "",
                    public_url=self.public_url,
                    ack_url=ack,
                    detail=details[language],
                    similar=similar,
                    calendars=self.policy.calendars,
                    language=language,
                    zone=zone,
                    first=first_page(event),
                ).to_json()
                messages[(ack, language, zone)] = message
            payload: dict[str, Any] = {
                "body": body,
                "message": message,
                "to": [address] if address else [],
            }
            if step is not None:
                payload["rule_step"] = step
            payloads.append(payload)
        return payloads

    def phoned(self, channel: str) -> bool:
        """Return whether a channel reaches a person at their phone number (sms, voice)."""
        return self.policy.channels[channel].type in PHONE_PROVIDERS

    def reader(self, channel: str, person: str | None) -> tuple[str, str | None]:
        """Return the language and time zone to page in: the person's, else the channel's."""
        reader = self.policy.people.get(person) if person else None
        configured = self.policy.channels.get(channel)
        settings = configured.settings if configured else {}
        language = (reader.language if reader else None) or settings.get("language")
        zone = reader.timezone.key if reader and reader.timezone else settings.get("timezone")
        return language_of(language), str(zone) if zone else None

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


RENDER = "render"  # a page's payload key: rendered by the worker when it leaves


def _pages(event: Event, places: Sequence[Place], at: datetime) -> list[dict[str, Any]]:
    """Return the unrendered rows of one event's pages: where each goes, and when it went stale."""
    rows = []
    for channel, person, address, step in places:
        payload: dict[str, Any] = {
            RENDER: event.kind,
            "to": [address] if address else [],
            "stale_when": list(stale_when(event)),
        }
        if step is not None:
            payload["rule_step"] = step
        rows.append(queue.outbox_row(key=_key(event.id, channel, person, step), channel=channel, payload=payload, now=at,
                                     recipient=person, event_id=event.id,
                                     incident_id=event.incident_id))  # fmt: skip
    return rows


def _key(event_id: int, channel: str, person: str | None, step: int | None) -> str:
    """Return a delivery's idempotency key: a person's rule step is a delivery of its own."""
    key = queue.idempotency_key(event_id, channel, person)
    if step is None:
        return key
    return queue.safe_key(f"{key}-step{step}", f"tocsin-{event_id}-")


def _place(row: queue.Row) -> Place:
    """Return where an unrendered page goes, as it was queued."""
    to = row.payload.get("to") or [None]
    step = row.payload.get("rule_step")
    return Place(row.channel, row.recipient, to[0], int(step) if step is not None else None)


def stale_when(event: Event) -> tuple[str, ...]:
    """Return the incident statuses in which a page for this event no longer helps anyone.

    A response page asks for an acknowledgement: once acknowledged it is stale. Every other
    page (resolution steps, SLA warnings and breaches, hand-offs) is stale once resolved.
    """
    if event.kind == "incident.escalated" and event.data.get("path") == "response":
        return ("acknowledged", "resolved", "closed")
    if event.kind == "incident.survey_answered":
        return ()  # a low score comes after the resolution, and the manager must hear it
    return ("resolved", "closed")


def first_page(event: Event) -> bool:
    """Return whether an event announces a new incident: its opening, or its first response page."""
    if event.kind == "incident.triggered":
        return True
    data = event.data
    return (
        event.kind == "incident.escalated"
        and data.get("path") == "response"
        and data.get("step") == 0
    )


class Subscriptions:
    """The EventHook queuing events for the channels subscribed to them: a batch's together."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def __call__(self, conn: Connection, event: Event) -> None:
        self.outbox.subscribed(conn, [event])

    def many(self, conn: Connection, events: Sequence[Event]) -> None:
        """Hear a batch of events (record_events calls this)."""
        self.outbox.subscribed(conn, events)


_EVENTS = select(
    events.c.id, events.c.incident_id, events.c.kind, events.c.actor, events.c.occurred_at,
    events.c.data,
).where(in_list(events.c.id, "ids"))  # fmt: skip


def _load_events(conn: Connection, ids: Sequence[int]) -> dict[int, Event]:
    found = {}
    for event_id, incident_id, kind, actor, occurred_at, data in conn.execute(
        _EVENTS, {"ids": list(ids)}
    ):
        found[int(event_id)] = Event(int(event_id), int(incident_id), kind, actor,
                                     as_utc(occurred_at), data or {})  # fmt: skip
    return found

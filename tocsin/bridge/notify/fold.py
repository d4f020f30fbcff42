"""No SMS storms: past a person's `phone_limit`, pages to their phone fold into one summary.

A person with `phone_limit: {pages: N, per: WINDOW}` gets at most N SMS and calls (pages of
incidents, on all their phone channels together) in any WINDOW. A page past that is not sent
on its own and not dropped: it is recorded in the incident's timeline (`incident.notified`,
`folded`), counted in `tocsin_bridge_phone_folded_total`, and its incident joins a durable
`fold_summary` timer of that person and channel, due a WINDOW after the first fold. When it
fires, one message lists every folded incident ("5 more incidents, 2 unacknowledged: …").
With `call_interval: I` as well, a call within I of the person's last call folds the same way,
its summary due no sooner than I after the fold, so their phone rings at most once per I.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from sqlalchemy import Connection, func, select

from tocsin.bridge.incidents.events import Event, record_event
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.channels.phone import SUMMARY, phrase
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.wording import language_of
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import Person
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents, outbox
from tocsin.bridge.timers.rows import Timer, move, pending, schedule

if TYPE_CHECKING:
    from tocsin.bridge.notify.outbox import Outbox, Place

log = logging.getLogger(__name__)
STATUS = {"acknowledged": "acked_item", "resolved": "resolved_item", "closed": "resolved_item"}
KIND = "fold_summary"  # subject: "person/channel"; payload: person, channel, incidents


class Folding:
    """Admits pages to people's phones within their limits and folds the rest into summaries."""

    def __init__(self, box: Outbox) -> None:
        self.box = box
        self.folded: Counter | None = None  # tocsin_bridge_phone_folded_total, once installed

    def admit(
        self, conn: Connection, items: Sequence[tuple[Event, Sequence[Place]]], at: datetime
    ) -> list[tuple[Event, list[Place]]]:
        """Return the items with every page past its person's limit folded (and recorded)."""
        used: dict[str, int] = {}
        called: set[str] = set()  # people this batch already rings
        admitted = []
        for event, places in items:
            kept = []
            for place in places:
                person = self.box.policy.people.get(place.person or "")
                if (
                    person is None
                    or person.phone_limit is None
                    or not self.box.phoned(place.channel)
                ):
                    kept.append(place)
                    continue
                if person.name not in used:
                    used[person.name] = self._sent(conn, person, at)
                rings = self._rings(person, place.channel)
                too_soon = rings and (person.name in called or self._called(conn, person, at))
                if used[person.name] < person.phone_limit.pages and not too_soon:
                    used[person.name] += 1
                    if rings:
                        called.add(person.name)
                    kept.append(place)
                else:
                    self._fold(conn, event, person, place.channel, at)
            admitted.append((event, kept))
        return admitted

    def _rings(self, person: Person, channel: str) -> bool:
        """Return whether a page on the channel is a call the person's call_interval spaces."""
        assert person.phone_limit is not None
        return person.phone_limit.call_interval is not None and self._voice(channel)

    def _voice(self, channel: str) -> bool:
        configured = self.box.policy.channels.get(channel)
        return configured is not None and configured.type == "voice"

    def _called(self, conn: Connection, person: Person, at: datetime) -> bool:
        """Return whether a call to the person went or goes out within their call_interval."""
        assert person.phone_limit is not None and person.phone_limit.call_interval is not None
        query = select(func.count(outbox.c.id)).where(
            outbox.c.recipient == person.name,
            in_list(outbox.c.channel, "channels"),
            outbox.c.created_at > at - person.phone_limit.call_interval,
            outbox.c.status != "dropped",
        )
        voices = [c for c in person.channels if self._voice(c)]
        return int(conn.execute(query, {"channels": voices}).scalar_one()) > 0

    def _sent(self, conn: Connection, person: Person, at: datetime) -> int:
        """Return how many incident pages went or go to the person's phone in their window."""
        assert person.phone_limit is not None
        phones = [c for c in person.channels if self.box.phoned(c)]
        query = select(func.count(outbox.c.id)).where(
            outbox.c.recipient == person.name,
            in_list(outbox.c.channel, "channels"),
            outbox.c.created_at >= at - person.phone_limit.per,
            outbox.c.incident_id.is_not(None),
            outbox.c.status != "dropped",
        )
        return int(conn.execute(query, {"channels": phones}).scalar_one())

    def _fold(
        self, conn: Connection, event: Event, person: Person, channel: str, at: datetime
    ) -> None:
        """Add the event's incident to the person's summary on this channel; record the fold."""
        assert person.phone_limit is not None
        subject = f"{person.name}/{channel}"[:255]
        found = pending(conn, kinds=[KIND], subject=subject)
        if found:
            timer = found[0]
            listed = list(timer.payload.get("incidents") or [])
            if event.incident_id not in listed:
                move(conn, timer.id, timer.due_at,
                     {**timer.payload, "incidents": [*listed, event.incident_id]})  # fmt: skip
            due = timer.due_at
        else:
            window = person.phone_limit.per
            if self._rings(person, channel):
                assert person.phone_limit.call_interval is not None
                window = max(window, person.phone_limit.call_interval)
            due = at + window
            payload = {"person": person.name, "channel": channel, "incidents": [event.incident_id]}
            schedule(conn, KIND, due, now=at, subject=subject, payload=payload)
        record_event(conn, [], incident_id=event.incident_id, kind="incident.notified",
                     actor=None, now=at,
                     data={"person": person.name, "folded": channel, "until": rfc3339(due)})  # fmt: skip
        if self.folded is not None:
            self.folded.labels(channel=channel).inc()
        log.info("incident %s: page to %s by %s folded into the summary due %s (phone_limit)",
                 event.incident_id, person.name, channel, rfc3339(due))  # fmt: skip

    def fire(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Send one message listing every incident folded for the person on the channel."""
        payload = timer.payload
        person = self.box.policy.people.get(str(payload.get("person", "")))
        channel = str(payload.get("channel", ""))
        ids = [int(i) for i in payload.get("incidents") or []]
        if person is None or channel not in self.box.policy.channels or not ids:
            log.warning("storm summary %s: its person or channel is gone from the policy; "
                        "incidents %s were folded for them and not summarised", timer.subject,
                        ids)  # fmt: skip
            return
        rows = conn.execute(
            select(incidents.c.id, incidents.c.priority, incidents.c.title, incidents.c.status)
            .where(in_list(incidents.c.id, "ids"))
            .order_by(incidents.c.id),
            {"ids": ids},
        ).all()
        language = language_of(person.language or self.box.policy.channels[channel].settings.get(
            "language"))  # fmt: skip
        text = summary_text(language, rows, self.box.public_url)
        order = list(self.box.policy.priorities)
        top = min(
            (str(r.priority) for r in rows), key=lambda p: order.index(p) if p in order else 99
        )
        message = Message(event=SUMMARY, incident_id=int(rows[0].id), priority=top,
                          priority_name="", title=text, status="triggered", language=language)  # fmt: skip
        body = {"event": SUMMARY, "occurred_at": rfc3339(now), "incidents": ids}
        row = queue.outbox_row(
            key=f"tocsin-fold-{timer.id}",
            channel=channel,
            payload={"body": body, "message": message.to_json(), "to": [person.phone]},
            now=now,
            recipient=person.name,
        )
        queue.enqueue_many(conn, [row])


def summary_text(language: str, rows: Sequence[Any], public_url: str | None) -> str:
    """Return the summary: how many, how many unacknowledged, and each incident in a line."""
    items = phrase(language, "sep").join(
        phrase(
            language,
            "item",
            id=row.id,
            priority=row.priority,
            title=row.title,
            status=phrase(language, STATUS[row.status]) if row.status in STATUS else "",
        )  # fmt: skip
        for row in rows
    )
    unacknowledged = sum(1 for row in rows if row.status == "triggered")
    text = phrase(language, "summary", count=len(rows), open=unacknowledged, items=items)
    if public_url:
        text += phrase(language, "board", url=public_url.rstrip("/") + "/")
    return text

"""Mail the reporter: receipt, public updates, resolution, and the follow-up with its survey link.

An EventHook, so each mail is queued in the outbox in the transaction of the change it tells
of, and delivered (retried, or a dead letter with an event on the incident) like any page.
What a mail says is decided here without I/O from the incident row and the event; only the
fields named in `values` reach a template, so internal notes, labels, alerts, other incidents
and staff names never do. Incidents without a reporter's address (alerts) cost no query.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from tocsin.bridge.incidents.events import Event, EventHook, public_update, record_event
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.links import SURVEY, sign_ack, survey_url
from tocsin.bridge.notify.mail_templates import SUBJECT_LIMIT, MailTemplates
from tocsin.bridge.notify.message import Message, clip
from tocsin.bridge.notify.wording import in_words, local_time
from tocsin.bridge.platform.clock import Clock, rfc3339
from tocsin.bridge.platform.reporter_settings import ReporterMailSettings
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents

log = logging.getLogger(__name__)
CHANNEL = "reporter:mail"  # the outbox channel of reporters' mails; the address is in the row
RECIPIENT = "reporter"
KINDS_BY_EVENT = {
    "incident.triggered": "receipt",
    "incident.note_added": "update",
    "incident.resolved": "resolution",
    "incident.follow_up_due": "follow_up",
}
BUSINESS = {"en": "{span} of business time", "zh-CN": "{span}（工作时间）"}


def mail_kind(event: Event) -> str | None:
    """Return which mail an event sends the reporter, if any (before looking at the incident)."""
    kind = KINDS_BY_EVENT.get(event.kind)
    if kind == "update" and not (event.data.get("public") and public_update(event.data)):
        return None  # internal notes stay among staff; a reporter's own reply is not echoed
    if kind == "resolution" and event.actor is None:
        return None  # resolved by its alerts, not by a person: nothing to tell in plain words
    return kind


def message_id(incident_id: int, kind: str, domain: str) -> str:
    """Return a Message-ID the inbound gateway threads replies by: <tocsin.ID.KIND.RANDOM@DOMAIN>."""
    return f"<tocsin.{incident_id}.{kind}.{secrets.token_hex(8)}@{domain}>"


class ReporterMail:
    """The EventHook queuing the reporter's mails; `many` lets a storm of alerts pass unread."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        settings: ReporterMailSettings,
        *,
        public_url: str,
        secret_key: bytes | None,
        templates: MailTemplates | None = None,
    ) -> None:
        self.policy = policy
        self.settings = settings
        self.public_url = public_url
        self.secret_key = secret_key
        self.templates = templates or MailTemplates(settings.templates)

    def __call__(self, conn: Connection, event: Event) -> None:
        kind = mail_kind(event) if self.settings.enabled else None
        if kind is None:
            return
        row = event.opened
        if row is None:
            row = conn.execute(select(incidents).where(incidents.c.id == event.incident_id)).first()
        if row is None or not row.reporter_email:
            return
        queue.enqueue_many(conn, [self.row(event, row, kind)])

    def many(self, conn: Connection, events: Sequence[Event]) -> None:
        """Hear a batch: incidents opened together carry their rows, so alerts cost no read."""
        for event in events:
            if event.opened is not None and not getattr(event.opened, "reporter_email", None):
                continue
            self(conn, event)

    def values(self, event: Event, row: Any, kind: str, language: str) -> dict[str, Any]:
        """Return the only fields a template sees: no labels, no internal notes, no staff data."""
        priority = self.policy().priorities.get(row.priority)
        values: dict[str, Any] = {
            "id": int(row.id),
            "title": clip(str(row.title), SUBJECT_LIMIT),
            "priority": row.priority,
            "priority_name": priority.name if priority else "",
            "reporter": row.reporter or "",
            "status": row.status,
            "response_within": self._promise(row.priority, "response", language),
            "update_every": self._promise(row.priority, "update", language),
            "note": "",
            "solution": "",
            "survey_url": "",
            "survey_expires": "",
        }
        if kind == "update":
            values["note"] = str(event.data.get("text") or "")
        elif kind == "resolution":
            values["solution"] = str(event.data.get("solution") or row.solution or "")
        elif kind == "follow_up":
            values |= self._survey(int(row.id), event.occurred_at, language)
        return values

    def row(self, event: Event, row: Any, kind: str) -> dict[str, Any]:
        """Return the outbox row of one mail to the incident's reporter, rendered now."""
        language = row.reporter_language or self.settings.language
        mail = self.templates.render(kind, language, self.values(event, row, kind, language))
        priority = self.policy().priorities.get(row.priority)
        message = Message(
            event=event.kind,
            incident_id=int(row.id),
            priority=row.priority,
            priority_name=priority.name if priority else "",
            title=mail.subject,
            status=row.status,
            language=language,
        )
        body = {
            "event": event.kind,
            "occurred_at": rfc3339(event.occurred_at),
            "mail": {
                "kind": kind,
                "subject": mail.subject,
                "text": mail.text,
                "message_id": message_id(int(row.id), kind, self.settings.domain),
                "from": self.settings.sender,
                "reply_to": self.settings.reply_to,
            },
        }
        return queue.outbox_row(
            key=queue.idempotency_key(event.id, CHANNEL, RECIPIENT),
            channel=CHANNEL,
            payload={"body": body, "message": message.to_json(), "to": [row.reporter_email]},
            now=event.occurred_at,
            recipient=RECIPIENT,
            event_id=event.id,
            incident_id=int(row.id),
        )

    def _promise(self, priority_key: str, clock: str, language: str) -> str:
        """Return a priority's target in words ('30 minutes', '8 hours of business time')."""
        priority = self.policy().priorities.get(priority_key)
        target = priority.target(clock) if priority else None
        if target is None or priority is None:
            return ""
        span = in_words(target.total_seconds(), language, days=priority.calendar is None)
        if priority.calendar is None:
            return span
        return BUSINESS.get(language, BUSINESS["en"]).format(span=span)

    def _survey(self, incident_id: int, now: datetime, language: str) -> dict[str, str]:
        """Return the survey link and when it expires, or nothing without a signing key."""
        if not self.secret_key:
            log.warning("incident %s: follow-up mailed without a survey link: the bridge has "
                        "no secret_key to sign it", incident_id)  # fmt: skip
            return {}
        ttl = self.settings.survey_ttl
        token = sign_ack(self.secret_key, incident_id=incident_id, person=RECIPIENT, now=now,
                         ttl=ttl, purpose=SURVEY)  # fmt: skip
        calendar = self.policy().calendars.get(self.policy().follow_up.calendar or "")
        zone = calendar.timezone if calendar else ZoneInfo("UTC")
        return {
            "survey_url": survey_url(self.public_url, token),
            "survey_expires": local_time(now + ttl, zone, language),
        }


class DeadMail:
    """Record a reporter's mail that became a dead letter on its incident's timeline.

    The worker has logged it and counted it; the event puts it where staff look, and tells the
    channels subscribed to events, so someone can call the reporter instead.
    """

    def __init__(self, store: Store, hooks: Sequence[EventHook], clock: Clock) -> None:
        self.store = store
        self.hooks = hooks
        self.clock = clock

    def __call__(self, row: queue.Row, reason: str) -> None:
        if row.channel != CHANNEL or row.incident_id is None:
            return
        body = row.payload.get("body")
        mail = body.get("mail") if isinstance(body, dict) else None
        kind = mail.get("kind") if isinstance(mail, dict) else None
        with self.store.begin() as conn:
            record_event(
                conn,
                self.hooks,
                incident_id=int(row.incident_id),
                kind="incident.reporter_mail_failed",
                actor=None,
                now=self.clock(),
                data={"mail": kind, "error": reason, "outbox_id": row.id},
            )

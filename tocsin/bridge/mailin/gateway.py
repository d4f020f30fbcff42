"""Turn one received mail into an incident, a note on one, or a logged refusal.

The same path for SMTP, LMTP and IMAP: `Gateway.take` commits the incident (through the
intake the web form and the API use, so it is routed and paged alike) or the reporter's note
before it returns, so a transport acknowledges a mail only once it is stored. A mail seen
before (same Message-ID, or same bytes) is stored once. Refused mail raises nothing: the
outcome says why, for the transport to answer (a 5xx, or set the mail aside). A database
that cannot be reached raises StoreUnavailable: the transport keeps the mail for a retry.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Connection, select

from tocsin.bridge.errors import InvalidInput, MailRefused
from tocsin.bridge.incidents.intake import Report, reporter_email
from tocsin.bridge.incidents.service import IncidentService, add_note, resume
from tocsin.bridge.mailin.loops import DEFAULT_DOMAIN, machine_reason, thread_incident
from tocsin.bridge.mailin.parse import (
    Attachment,
    Mail,
    parse_mail,
    read_mail,
    unreadable_is_refused,
)
from tocsin.bridge.mailin.rules import sort_mail
from tocsin.bridge.mailin.text import reply_text
from tocsin.bridge.platform.mailin_settings import MailinSettings
from tocsin.bridge.store.db import lock_incident
from tocsin.bridge.store.schema import events, incidents

log = logging.getLogger(__name__)
TITLE_CHARS = 200
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Outcome:
    """What became of a mail: opened, noted, duplicate, ignored or refused, and why."""

    action: str
    reason: str = ""
    incident_id: int | None = None
    detail: str = ""
    smtp_code: str = ""  # for a refusal: the SMTP reply code and enhanced status


class MailMetrics:
    """Mails taken, by transport, outcome and reason; IMAP polls by result."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.mails = Counter(
            "tocsin_bridge_mail",
            "Inbound mails, by transport (smtp, lmtp, imap), outcome (opened, noted, "
            "duplicate, ignored, refused, deferred) and reason (auto_submitted, precedence, "
            "autoreply, list, dsn, bounce, own_mail, too_large, malformed, charset, no_sender, "
            "unavailable, error).",
            ["transport", "outcome", "reason"],
            registry=registry,
        )
        self.polls = Counter(
            "tocsin_bridge_mail_polls",
            "IMAP polling rounds, by result (ok, failed: the mailbox could not be read).",
            ["result"],
            registry=registry,
        )

    def count(self, transport: str, outcome: str, reason: str = "") -> None:
        """Count one mail."""
        self.mails.labels(transport=transport, outcome=outcome, reason=reason).inc()


def mail_key(mail: Mail, raw: bytes) -> str:
    """Return the incident key of a mail: its Message-ID, else its bytes, hashed."""
    basis = mail.message_id.encode() if mail.message_id else raw
    return "mail-" + hashlib.sha256(basis).hexdigest()[:40]


def attachment_lines(attachments: tuple[Attachment, ...]) -> str:
    """Return the list of attachments for a description (their content is not kept)."""
    if not attachments:
        return ""
    lines = [f"- {a.name} ({a.size:,} bytes)" for a in attachments]
    return "\n\n附件（未保存） / Attachments (not kept):\n" + "\n".join(lines)


def title_of(mail: Mail) -> str:
    """Return the incident title: the subject, else the first line of text, else the sender."""
    first = next((line.strip() for line in mail.text.splitlines() if line.strip()), "")
    title = mail.subject or first or mail.sender
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def reply_address(sender: str) -> str | None:
    """Return the address the reporter's mails go to, or None for one no header can carry."""
    try:
        return reporter_email(sender)
    except InvalidInput:
        return None


def language_of(mail: Mail) -> str | None:
    """Return zh-CN for a mail written in Chinese, else None (the configured default)."""
    return "zh-CN" if _CJK.search(mail.subject + mail.text) else None


class Gateway:
    """Take raw mails from any transport and store what each means."""

    def __init__(
        self,
        settings: MailinSettings,
        service: Callable[[], IncidentService],
        metrics: MailMetrics,
        domain: str = DEFAULT_DOMAIN,
    ) -> None:
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self.domain = domain  # of the bridge's own Message-IDs (reporter_mail.domain)

    def take(self, raw: bytes, *, envelope_sender: str | None, transport: str) -> Outcome:
        """Store what one mail means and return the outcome; StoreUnavailable means retry."""
        outcome = self._decide(raw, envelope_sender)
        self.metrics.count(transport, outcome.action, outcome.reason)
        if outcome.action == "refused":
            log.warning("%s: mail refused (%s): %s", transport, outcome.reason, outcome.detail)
        elif outcome.action == "ignored":
            log.info("%s: machine mail ignored (%s): %s", transport, outcome.reason, outcome.detail)
        else:
            log.info("%s: mail %s incident %s", transport, outcome.action, outcome.incident_id)
        return outcome

    def refused(self, transport: str, reason: str, detail: str) -> None:
        """Log and count a mail the transport refused before the gateway saw it (too large)."""
        self.metrics.count(transport, "refused", reason)
        log.warning("%s: mail refused (%s): %s", transport, reason, detail)

    def deferred(self, transport: str, reason: str, detail: str) -> None:
        """Log and count a mail left with its sender (SMTP 451, or left on the IMAP server)."""
        self.metrics.count(transport, "deferred", reason)
        log.warning("%s: mail kept for a retry (%s): %s", transport, reason, detail)

    def _decide(self, raw: bytes, envelope_sender: str | None) -> Outcome:
        try:
            with unreadable_is_refused():
                message = read_mail(raw, self.settings.max_bytes)
                machine = machine_reason(message, envelope_sender, self.domain)
                if machine is not None:
                    sender = str(message.get("From", ""))[:80]
                    return Outcome("ignored", machine, detail=f"from {sender!r}")
                mail = parse_mail(message)
        except MailRefused as exc:
            return Outcome("refused", exc.reason, detail=exc.message, smtp_code=exc.smtp_code)
        service = self.service()
        with service.store.begin() as conn:
            target = thread_incident(mail.thread_ids, mail.subject, self.domain)
            status = None if target is None else _status(conn, target)
            if target is not None and status is not None and status != "closed":
                return self._note(conn, service, target, mail)
            # A reply to a closed incident would be a note nobody reads: it opens a new one.
            follows = target if status == "closed" else None
            return self._open(conn, service, mail, mail_key(mail, raw), follows)

    def _open(
        self,
        conn: Connection,
        service: IncidentService,
        mail: Mail,
        key: str,
        follows: int | None = None,
    ) -> Outcome:
        found = conn.execute(select(incidents.c.id).where(incidents.c.key == key)).scalar()
        if found is not None:
            return Outcome("duplicate", "seen_before", int(found))
        sorting = sort_mail(self.settings, mail.sender_domain, mail.subject)
        earlier = (
            ""
            if follows is None
            else f"\n\n回复已关闭的事件 / A reply to closed incident #{follows}"
        )
        report = Report(
            title=title_of(mail),
            description=mail.text + attachment_lines(mail.attachments) + earlier,
            priority=sorting.priority,
            reporter=mail.sender_name or mail.sender,
            contact=mail.sender,
            email=reply_address(mail.sender),
            language=language_of(mail),
            report_type="email",
            team=sorting.team,
        )
        incident_id = service.open_report(conn, report, actor=None, now=service.clock(), key=key)
        return Outcome("opened", incident_id=incident_id)

    def _note(
        self, conn: Connection, service: IncidentService, incident_id: int, mail: Mail
    ) -> Outcome:
        row = lock_incident(conn, incident_id)
        if mail.message_id and _noted_before(conn, incident_id, mail.message_id):
            return Outcome("duplicate", "seen_before", incident_id)
        now = service.clock()
        origin = {"sender": mail.sender, "via": "email"}
        if mail.message_id:
            origin["message_id"] = mail.message_id
        add_note(
            conn,
            service.hooks,
            incident_id,
            actor=None,
            now=now,
            text=reply_text(mail.text) + attachment_lines(mail.attachments),
            from_reporter=True,
            origin=origin,
        )
        if row.paused:
            # Paused while waiting on the reporter: the reporter answered, the clocks run again.
            resume(conn, service.hooks, incident_id, actor=None, now=now)
        return Outcome("noted", incident_id=incident_id)


def _status(conn: Connection, incident_id: int) -> str | None:
    found = conn.execute(select(incidents.c.status).where(incidents.c.id == incident_id)).scalar()
    return None if found is None else str(found)


def _noted_before(conn: Connection, incident_id: int, message_id: str) -> bool:
    rows = conn.execute(
        select(events.c.data).where(
            events.c.incident_id == incident_id, events.c.kind == "incident.note_added"
        )
    )
    return any((data or {}).get("message_id") == message_id for (data,) in rows)

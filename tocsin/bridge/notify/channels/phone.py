"""SMS and voice channels: a short page in the person's language, sent by the channel's provider.

A provider (Twilio, Alibaba Cloud, Tencent Cloud) says only how it sends; this module decides
what the phone shows or says, and what a failure means. A request that may have reached the
provider (no answer after it was sent, the connection dropped) is never sent again: a second
call at 3 AM is worse than a visible dead letter, and the next escalation step still pages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from urllib3.exceptions import NewConnectionError

from tocsin.bridge.errors import ConfigError, DeliveryFailed, DeliveryRefused, DeliveryUncertain
from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.phone_ledger import Ledger
from tocsin.bridge.notify.phone_metrics import PhoneMetrics
from tocsin.bridge.notify.sanitize import clean
from tocsin.bridge.platform.clock import Clock, utcnow

log = logging.getLogger(__name__)
SUMMARY = "phone.summary"  # the Message event of a storm summary (tocsin.bridge.notify.fold)
# One SMS holds 160 GSM-7 characters, or 70 UCS-2 ones (any Chinese character needs UCS-2).
SMS_LIMIT = {"en": 160, "zh-CN": 70}
TEXTS = {
    "en": {
        "sms": "{priority} #{id}: {title}{host}",
        "host": " on {host}",
        "reply": ". Reply {code} to acknowledge",
        "say": "Tocsin alert. Priority {priority}. Incident {id}: {title}{host}.",
        "press": "Press 1 to acknowledge.",
        "acked": "Acknowledged incident {id}. Thank you.",
        "already": "Incident {id} was already acknowledged.",
        "unknown": "No open incident matches that code.",
        "summary": "Tocsin: {count} more incidents, {open} unacknowledged: {items}",
        "item": "#{id} {priority} {title}{status}",
        "acked_item": " (acknowledged)",
        "resolved_item": " (resolved)",
        "sep": "; ",
        "board": ". Board: {url}",
    },
    "zh-CN": {
        "sms": "【{priority}】#{id}：{title}{host}",
        "host": "（{host}）",
        "reply": "。回复 {code} 确认",
        "say": "Tocsin 告警。{priority} 级事件 {id}：{title}{host}。",
        "press": "确认请按 1。",
        "acked": "已确认事件 {id}，谢谢。",
        "already": "事件 {id} 已有人确认。",
        "unknown": "没有与该代码对应的未关闭事件。",
        "summary": "Tocsin：另有 {count} 个事件，{open} 个未确认：{items}",
        "item": "#{id} {priority} {title}{status}",
        "acked_item": "（已确认）",
        "resolved_item": "（已解决）",
        "sep": "；",
        "board": "。看板：{url}",
    },
}


@dataclass(frozen=True)
class PhonePage:
    """What one phone page carries: the number, the incident, the texts and the reply code."""

    to: str  # E.164
    key: str  # the outbox idempotency key
    incident_id: int
    priority: str
    title: str
    host: str
    language: str
    person: str | None
    summary: bool = False  # a storm's folded pages: `title` is the whole text, nothing to ack


class Provider(Protocol):
    """Sends a text or places a call; returns the provider's id of the message or call."""

    name: str

    def send(self, kind: str, page: PhonePage) -> str:
        """Send an `sms` or place a `voice` call; raise DeliveryFailed unless accepted."""


def phrase(language: str, key: str, **values: object) -> str:
    """Return a phone text in the language (English when it has no such text)."""
    texts = TEXTS.get(language, TEXTS["en"])
    return texts[key].format(**values)


def ack_code(secret: str, incident_id: int, person: str) -> str:
    """Return the code a person replies to acknowledge: the incident id and 4 check digits.

    The check digits (HMAC of incident and person) make a guessed or mistyped code fail.
    """
    digest = hmac.new(secret.encode(), f"{incident_id}:{person}".encode(), hashlib.sha256)
    return f"{incident_id}{int(digest.hexdigest(), 16) % 10000:04d}"


def read_code(secret: str, text: str, person: str) -> int | None:
    """Return the incident a reply's code acknowledges for this person, or None if none does."""
    for word in "".join(c if c.isdigit() else " " for c in text).split():
        if len(word) > 4 and hmac.compare_digest(ack_code(secret, int(word[:-4]), person), word):
            return int(word[:-4])
    return None


def sms_text(page: PhonePage, code: str | None) -> str:
    """Return the SMS, its title shortened so that the whole fits one message where it can."""
    if page.summary:
        return page.title
    language = page.language
    host = phrase(language, "host", host=page.host) if page.host else ""
    tail = phrase(language, "reply", code=code) if code else ""
    limit = SMS_LIMIT.get(language, 160)
    title = page.title
    room = limit - len(phrase(language, "sms", priority=page.priority, id=page.incident_id,
                                title="", host=host) + tail)  # fmt: skip
    if len(title) > room:
        title = title[: max(room - 1, 12)] + "…"
    body = phrase(language, "sms", priority=page.priority, id=page.incident_id, title=title,
                  host=host)  # fmt: skip
    return body + tail


def speech(page: PhonePage) -> str:
    """Return what a call says before asking for a key."""
    if page.summary:
        return page.title
    host = phrase(page.language, "host", host=page.host) if page.host else ""
    return phrase(page.language, "say", priority=page.priority, id=page.incident_id,
                  title=page.title, host=host)  # fmt: skip


def phone_page(notification: Notification, message: Message) -> PhonePage:
    """Return the page for a notification addressed to a phone number."""
    if not notification.to or message.incident_id is None:
        raise DeliveryRefused(f"{notification.key}: a phone page needs a number and an incident")
    return PhonePage(
        to=notification.to[0],
        key=notification.key,
        incident_id=message.incident_id,
        priority=message.priority,
        title=clean(message.title),
        host=clean(message.host or ""),
        language=message.language,
        person=notification.recipient,
        summary=message.event == SUMMARY,
    )


def maybe_sent(exc: requests.RequestException) -> bool:
    """Return whether a failed request may have reached the provider (so must not be repeated)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        return not isinstance(getattr(reason, "reason", reason), NewConnectionError)
    return isinstance(exc, requests.Timeout)


def transport_failure(provider: str, exc: requests.RequestException, key: str) -> DeliveryFailed:
    """Translate a failed request: retried if it never left, a dead letter if it may have."""
    what = type(exc).__name__
    if maybe_sent(exc):
        return DeliveryUncertain(
            f"{provider}: no answer after the request was sent ({what}); it may have been "
            f"accepted, so {key} is not sent again: check the provider's console"
        )
    return DeliveryFailed(f"{provider}: cannot connect ({what})")


class PhoneSender:
    """The `sms` or `voice` channel: builds the page and hands it to the channel's provider.

    With a ledger (the worker's store), the send is recorded before and after on the outbox
    row, so an accepted page is never sent twice; with metrics, sends are counted and timed.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        provider: Provider,
        *,
        ledger: Ledger | None = None,
        metrics: PhoneMetrics | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.name = name
        self.clock = clock
        self.type = kind
        self.provider = provider
        self.ledger = ledger
        self.metrics = metrics

    def deliver(self, notification: Notification) -> None:
        """Send the page unless the provider already accepted it; record the provider's id."""
        page = phone_page(notification, notification.message)
        if self.ledger is not None:
            ref = self.ledger.before(page.key)
            if ref is not None:
                log.info("%s: %s was accepted before as %s; not sent again",
                         self.name, page.key, ref)  # fmt: skip
                return
        started = time.monotonic()
        try:
            ref = self.provider.send(self.type, page)
        except DeliveryUncertain:
            self._count("uncertain", started)
            raise
        except DeliveryFailed as exc:
            refused = isinstance(exc, DeliveryRefused)
            self._count("refused" if refused else "failed", started)
            if self.ledger is not None and refused:
                self.ledger.refused(page.key, self.clock())  # a dead letter: try the next method
            elif self.ledger is not None:
                self.ledger.not_sent(page.key)
            raise
        self._count("accepted", started)
        if self.ledger is not None:
            self.ledger.accepted(page.key, ref)
        log.info("%s: %s accepted %s as %s", self.name, self.provider.name, page.key, ref)

    def _count(self, result: str, started: float) -> None:
        if self.metrics is not None:
            provider = self.provider.name
            self.metrics.sent.labels(provider=provider, kind=self.type, result=result).inc()
            self.metrics.latency.labels(provider=provider).observe(time.monotonic() - started)


def vendor_error(provider: str, code: str, message: str, *, retry: bool) -> DeliveryFailed:
    """Return the failure for a vendor's error code: retried if it may pass later, else dead."""
    text = f"{provider}: refused with code {code}: {clean(message)[:200]}"
    return DeliveryFailed(text) if retry else DeliveryRefused(text)


def reply_json(provider: str, response: requests.Response) -> Mapping[str, Any]:
    """Return a provider's JSON reply, or raise a retryable failure when it is not JSON."""
    try:
        data = response.json()
    except ValueError as exc:
        raise DeliveryFailed(f"{provider}: HTTP {response.status_code}, reply is not JSON") from exc
    if not isinstance(data, Mapping):
        raise DeliveryFailed(f"{provider}: HTTP {response.status_code}, reply is not an object")
    return data


class HttpProvider:
    """A provider this bridge signs for by hand: the channel's settings, HTTP session and clock.

    `credentials` names the two settings (key id, secret) read as `KEY` or `KEY_file`.
    """

    name: str
    vendor: str  # as errors name it
    credentials: tuple[str, str]

    def __init__(
        self,
        channel: str,
        settings: Mapping[str, Any],
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utcnow,
    ) -> None:
        self.channel = channel
        self.settings = settings
        self.key_id, self.secret = (
            setting_secret(settings, key, channel=channel) or "" for key in self.credentials
        )
        self.session = session or requests.Session()
        self.timeout = timeout
        self.clock = clock

    def setting(self, key: str) -> str:
        """Return a setting the vendor requires, or refuse the config naming it."""
        value = self.settings.get(key)
        if not value:
            raise ConfigError(f"channel {self.channel!r}: set {key!r} for {self.vendor}")
        return str(value)

"""Tell machine mail (auto-replies, bounces, lists, the bridge's own) from a person's, free of I/O.

Such mail never opens an incident nor earns an answer: answering an auto-reply with a receipt
is how two robots mail each other forever. The checks follow RFC 3834 (Auto-Submitted), RFC
3464 (delivery status notifications) and the headers common responders set.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from tocsin.bridge.mailin.parse import message_id, raw_header

DEFAULT_DOMAIN = "tocsin"  # reporter_mail.domain's default


def bridge_id(domain: str) -> re.Pattern[str]:
    """Match "<tocsin.<incident id>.<kind>.<random>@<domain>>": every mail the bridge sends."""
    return re.compile(rf"<tocsin\.(\d+)\.[\w-]+\.[\w-]+@{re.escape(domain)}>", re.IGNORECASE)


_DAEMONS = ("mailer-daemon@", "postmaster@")


def machine_reason(
    message: Message, envelope_sender: str | None, domain: str = DEFAULT_DOMAIN
) -> str | None:
    """Return why a mail is machine mail (a metric label), or None for a person's mail."""
    if envelope_sender is None:
        envelope_sender = raw_header(message, "Return-Path")  # a delivered mail's envelope
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return "bounce"  # the null reverse-path: only notifications use it (RFC 5321 4.5.5)
    addresses = getaddresses([raw_header(message, "From") or ""])
    senders = [(envelope_sender or "").lower(), *(address.lower() for _, address in addresses)]
    if any(sender.startswith(_DAEMONS) for sender in senders):
        return "bounce"
    kind = message.get_content_type()
    report = str(message.get_param("report-type") or "").lower()
    if kind == "multipart/report" and report in ("delivery-status", "disposition-notification"):
        return "dsn"
    auto = re.split(r"[;(\s]", (raw_header(message, "Auto-Submitted") or "").strip().lower())[0]
    if auto and auto != "no":
        return "auto_submitted"
    precedence = (raw_header(message, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return "precedence"
    if any(raw_header(message, name) is not None for name in ("X-Autoreply", "X-Autorespond")):
        return "autoreply"
    if raw_header(message, "List-Id") is not None:
        return "list"
    own = message_id(message)
    if own is not None and bridge_id(domain).fullmatch(own):
        return "own_mail"  # one of the bridge's own mails came back
    return None


def thread_incident(
    thread_ids: tuple[str, ...], subject: str, domain: str = DEFAULT_DOMAIN
) -> int | None:
    """Return the incident a reply belongs to: by a bridge Message-ID, else '[#id]' in the subject."""
    pattern = bridge_id(domain)
    for found in thread_ids:
        matched = pattern.fullmatch(found)
        if matched:
            return int(matched.group(1))
    tagged = re.search(r"\[#(\d{1,18})\]", subject)
    return int(tagged.group(1)) if tagged else None

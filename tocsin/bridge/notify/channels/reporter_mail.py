"""The reporter's mails: plain text as rendered when queued, threaded by their Message-ID.

The subject, body and Message-ID were rendered when the mail was queued (tocsin.bridge.notify.
reporter); this sender only wraps them in headers and hands them to the SMTP relay as pages
are. Auto-Submitted marks them as sent by a machine (RFC 3834), so an auto-responder does not
answer, and the reporter's address never appears in an error or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from tocsin.bridge.errors import ConfigError, DeliveryFailed
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.email import EmailSender
from tocsin.bridge.notify.redact import MASK
from tocsin.bridge.notify.sanitize import clean


def reporter_email(mail: Mapping[str, Any], sender: str, to: tuple[str, ...]) -> EmailMessage:
    """Return the reporter's text-only mail with the headers the inbound gateway threads by."""
    message = EmailMessage()
    message["Subject"] = clean(mail["subject"])
    message["From"] = mail.get("from") or sender
    message["To"] = ", ".join(to)
    if mail.get("reply_to"):
        message["Reply-To"] = mail["reply_to"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail["message_id"]
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(mail["text"]), charset="utf-8")
    return message


class ReporterMailSender(EmailSender):
    """Sends an incident's reporter the mail rendered for them."""

    type = "reporter_mail"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("reporter mail", {}, *args, **kwargs)
        self._hidden: tuple[str, ...] = ()

    def fail(self, reason: str) -> DeliveryFailed:
        """Return a delivery error naming the relay, with the reporter's address masked."""
        for address in self._hidden:
            reason = reason.replace(address, MASK)
        return super().fail(reason)

    def deliver(self, notification: Notification) -> None:
        """Send the rendered mail; return only once the relay accepted it."""
        if self.smtp is None:
            raise ConfigError("reporter mail needs the 'smtp:' section of the bridge config")
        if not notification.to:
            raise self.fail("no reporter address")
        self._hidden = notification.to
        mail = notification.body.get("mail")
        if not isinstance(mail, Mapping):
            raise self.fail("outbox entry holds no rendered mail")
        self.send(
            self.smtp, reporter_email(mail, self.smtp.sender, notification.to), notification.to
        )

"""SMTP email: STARTTLS (or implicit TLS) and login, a multipart message with text and HTML parts."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from tocsin.bridge.errors import ConfigError, DeliveryFailed
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.redact import scrub
from tocsin.bridge.notify.render import as_html, as_text
from tocsin.bridge.platform.config import Smtp

log = logging.getLogger(__name__)


def build_email(notification: Notification, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """Return the page as a UTF-8 multipart/alternative mail, Message-ID derived from the key."""
    message = notification.message
    mail = EmailMessage()
    mail["Subject"] = message.headline
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(usegmt=True)
    # A retried page keeps its Message-ID, so mail clients and archives can fold repeats.
    mail["Message-ID"] = f"<{notification.key}@tocsin>"
    if message.incident_id is not None:
        mail["X-Tocsin-Incident"] = str(message.incident_id)
    mail.set_content(as_text(message), charset="utf-8")
    mail.add_alternative(as_html(message), subtype="html", charset="utf-8")
    return mail


def plain_email(notification: Notification, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """Return the page as a text-only mail, for a page whose full mail could not be built."""
    mail = EmailMessage()
    message = notification.message
    mail["Subject"] = (
        f"Tocsin page: incident #{message.incident_id}" if message.incident_id else "Tocsin"
    )
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{notification.key}@tocsin>"
    mail.set_content(as_text(message), charset="utf-8")
    return mail


class EmailSender:
    """Sends pages by SMTP to the channel's `to` list or to the person paged."""

    type = "email"

    def __init__(
        self,
        name: str,
        settings: Mapping[str, Any],
        smtp: Smtp | None,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.to = tuple(str(address) for address in settings.get("to") or ())
        self.smtp = smtp
        self.tls_context = tls_context

    def fail(self, reason: str) -> DeliveryFailed:
        """Return a delivery error naming the server, never the password."""
        host, port = (self.smtp.host, self.smtp.port) if self.smtp else ("?", 0)
        secrets = [self.smtp.password or ""] if self.smtp else []
        return DeliveryFailed(scrub(f"{self.name}: smtp {host}:{port}: {reason}", secrets))

    def deliver(self, notification: Notification) -> None:
        """Send one mail; return only once the server accepted it for every recipient."""
        smtp = self.smtp
        if smtp is None:
            raise ConfigError(
                f"channel {self.name!r}: email needs the 'smtp:' section of the bridge config"
            )
        to = notification.to or self.to
        if not to:
            raise self.fail("no recipient address")
        self.send(smtp, self.build(notification, smtp.sender, to), to)

    def build(self, notification: Notification, sender: str, to: tuple[str, ...]) -> EmailMessage:
        """Return the mail of a page; if it cannot be built, the page as plain text."""
        try:
            return build_email(notification, sender, to)
        except (ValueError, TypeError) as exc:  # the page must still go out: as plain text
            log.warning("%s: building mail %s failed (%s); sending plain text", self.name,
                        notification.key, exc)  # fmt: skip
            return plain_email(notification, sender, to)

    def send(self, smtp: Smtp, mail: EmailMessage, to: tuple[str, ...]) -> None:
        """Hand one mail to the relay; return only once it accepted every recipient."""
        context = self.tls_context or ssl.create_default_context()
        try:
            client = (
                smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
                if smtp.ssl
                else smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
            )
            with client:
                client.ehlo()
                if smtp.starttls and not smtp.ssl:
                    client.starttls(context=context)
                    client.ehlo()
                if smtp.username:
                    client.login(smtp.username, smtp.password or "")
                refused = client.send_message(mail, to_addrs=list(to))
        except smtplib.SMTPAuthenticationError as exc:
            raise self.fail(f"login as {smtp.username!r} refused ({exc.smtp_code})") from exc
        except smtplib.SMTPException as exc:
            raise self.fail(f"{type(exc).__name__}: {exc}") from exc
        except ssl.SSLError as exc:
            raise self.fail(f"TLS failed: {exc.reason}") from exc
        except TimeoutError as exc:
            raise self.fail(f"no answer in {smtp.timeout:g}s") from exc
        except OSError as exc:
            raise self.fail(f"cannot connect: {exc.strerror or type(exc).__name__}") from exc
        if refused:
            raise self.fail(f"recipients refused: {', '.join(sorted(refused))}")

"""SMTP email: STARTTLS, login, and a multipart message with a text and an HTML part."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from bridge.errors import ConfigError, DeliveryFailed
from bridge.notify.channels import Notification
from bridge.notify.redact import scrub
from bridge.notify.render import as_html, as_text

DEFAULT_TIMEOUT = 15.0


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server pages go through (the bridge config's `smtp:`)."""

    host: str
    port: int = 587
    sender: str = "tocsin@localhost"
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    cafile: str | None = None  # trust this CA (a private mail relay) besides the system's
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r})"


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
    mail["X-Tocsin-Incident"] = str(message.incident_id)
    mail.set_content(as_text(message), charset="utf-8")
    mail.add_alternative(as_html(message), subtype="html", charset="utf-8")
    return mail


class EmailSender:
    """Sends pages by SMTP to the channel's `to` list or to the person paged."""

    type = "email"

    def __init__(self, name: str, settings: Mapping[str, Any], smtp: SmtpSettings | None) -> None:
        self.name = name
        self.to = tuple(str(address) for address in settings.get("to") or ())
        self.smtp = smtp

    def fail(self, reason: str) -> DeliveryFailed:
        """Return a delivery error naming the server, never the password."""
        host = self.smtp.host if self.smtp else "?"
        port = self.smtp.port if self.smtp else 0
        secrets = [self.smtp.password or ""] if self.smtp else []
        return DeliveryFailed(scrub(f"{self.name}: smtp {host}:{port}: {reason}", secrets))

    def deliver(self, notification: Notification) -> None:
        """Send one mail; return only once the server accepted it for every recipient."""
        if self.smtp is None:
            raise ConfigError(
                f"channel {self.name!r}: email needs the bridge config's 'smtp:' section"
            )
        to = notification.to or self.to
        if not to:
            raise self.fail("no recipient address")
        mail = build_email(notification, self.smtp.sender, to)
        try:
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout) as smtp:
                smtp.ehlo()
                if self.smtp.starttls:
                    context = ssl.create_default_context(cafile=self.smtp.cafile)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.smtp.username:
                    smtp.login(self.smtp.username, self.smtp.password or "")
                refused = smtp.send_message(mail, to_addrs=list(to))
        except smtplib.SMTPAuthenticationError as exc:
            raise self.fail(f"login as {self.smtp.username!r} refused ({exc.smtp_code})") from exc
        except smtplib.SMTPException as exc:
            raise self.fail(f"{type(exc).__name__}: {exc}") from exc
        except ssl.SSLError as exc:
            raise self.fail(f"TLS failed: {exc.reason}") from exc
        except TimeoutError as exc:
            raise self.fail(f"no answer in {self.smtp.timeout:g}s") from exc
        except OSError as exc:
            raise self.fail(f"cannot connect: {exc.strerror or type(exc).__name__}") from exc
        if refused:
            raise self.fail(f"recipients refused: {', '.join(sorted(refused))}")

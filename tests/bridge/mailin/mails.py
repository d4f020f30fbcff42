"""Raw mails as clients and servers really write them: charsets, HTML, attachments, bounces."""

from __future__ import annotations

from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, make_msgid

SENDER = "wang.li@customer.example.com"


def mail(
    subject: str = "Payroll server is down",
    body: str = "Nobody can log in since 9:00.",
    *,
    sender: str = SENDER,
    name: str = "Wang Li",
    charset: str = "utf-8",
    subtype: str = "plain",
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """Return a one-part mail, its subject and body in `charset` (encoded words, base64)."""
    part = MIMEText(body, subtype, charset)
    part["From"] = formataddr((str(Header(name, charset).encode()), sender))
    part["To"] = "help@desk.example.com"
    part["Subject"] = Header(subject, charset).encode()
    part["Message-ID"] = message_id or make_msgid(domain="customer.example.com")
    for key, value in (headers or {}).items():
        part[key] = value
    return part.as_bytes()


def with_attachment(body: str = "See the log.", filename: str = "error.log") -> bytes:
    """Return a multipart mail: a text part and one file."""
    outer = MIMEMultipart()
    outer["From"] = f"Wang Li <{SENDER}>"
    outer["Subject"] = "Crash on start"
    outer["Message-ID"] = make_msgid(domain="customer.example.com")
    outer.attach(MIMEText(body, "plain", "utf-8"))
    outer.attach(MIMEApplication(b"x" * 1234, Name=filename))
    outer.get_payload()[1]["Content-Disposition"] = f'attachment; filename="{filename}"'
    return outer.as_bytes()


def reply_to(
    message_id: str, body: str = "It works again, thanks.", subject: str = "Re: ticket"
) -> bytes:
    """Return a reply threaded under `message_id` (In-Reply-To and References)."""
    return mail(subject, body, headers={"In-Reply-To": message_id, "References": message_id})


def malformed() -> bytes:
    """Return a multipart mail whose boundary never appears: its parts cannot be told apart."""
    return (
        b"From: Wang Li <wang.li@customer.example.com>\r\n"
        b"Subject: broken\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-there"\r\n'
        b"\r\n"
        b"no boundary line follows, only this text\r\n"
    )


def dsn() -> bytes:
    """Return a delivery status notification (RFC 3464) as a mail server sends it."""
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example.com>\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.customer.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@customer.example.com\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\n\r\n--b1--\r\n"
    )

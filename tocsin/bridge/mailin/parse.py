"""Read one raw mail into what an incident needs, free of I/O; refuse what cannot be read.

Refusals (MailRefused, with a reason for logs and metrics): too_large, malformed (broken MIME
structure or transfer encoding), charset (a label no codec knows, or bytes the charset cannot
read), no_sender (no From address). Attachments are listed by name and size, never kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import errors as defects
from email import policy
from email.errors import MessageError
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses

from tocsin.bridge.errors import MailRefused
from tocsin.bridge.mailin.text import decode_bytes, decode_header_value, html_to_text, tidy

# Defects after which the parts are not the parts the sender wrote: the mail is refused.
BROKEN = (
    defects.NoBoundaryInMultipartDefect,
    defects.StartBoundaryNotFoundDefect,
    defects.CloseBoundaryNotFoundDefect,
    defects.MultipartInvariantViolationDefect,
    defects.InvalidBase64CharactersDefect,
    defects.InvalidBase64LengthDefect,
)
MAX_DEPTH = 20  # nested multiparts deeper than this are refused as malformed
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Attachment:
    """A file that came with the mail: listed in the incident, not stored."""

    name: str
    size: int


@dataclass(frozen=True)
class Mail:
    """The parts of a mail an incident or note is made of."""

    sender: str  # the From address, lower case
    sender_name: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...]
    message_id: str | None
    thread_ids: tuple[str, ...]  # In-Reply-To and References, as <id>
    headers: Message  # for the loop checks (tocsin.bridge.mailin.loops)

    @property
    def sender_domain(self) -> str:
        """Return the domain of the sender's address."""
        return self.sender.rpartition("@")[2]


@contextmanager
def unreadable_is_refused() -> Iterator[None]:
    """Turn what the standard library raises on a mangled mail into a refusal (malformed)."""
    try:
        yield
    except (LookupError, ValueError, UnicodeError, MessageError) as exc:
        raise MailRefused(f"the mail cannot be read ({type(exc).__name__})", "malformed") from exc


def read_mail(raw: bytes, max_bytes: int) -> Message:
    """Parse the headers and structure of a raw mail; refuse one over the size limit."""
    if len(raw) > max_bytes:
        raise MailRefused(
            f"mail of {len(raw)} bytes is over the limit of {max_bytes}", "too_large", "552 5.3.4"
        )
    return BytesParser(policy=policy.compat32).parsebytes(raw)


def parse_mail(message: Message) -> Mail:
    """Return the sender, subject, text and attachments of a parsed mail, or refuse it."""
    _check_structure(message, 0)
    addresses = getaddresses([raw_header(message, "From") or ""])
    name, address = addresses[0] if addresses else ("", "")
    if "@" not in address:
        raise MailRefused("the mail names no sender address (From)", "no_sender")
    body: list[str] = []
    attachments: list[Attachment] = []
    _collect(message, body, attachments)
    hint = next((label for label in message.get_charsets() if label), None)
    return Mail(
        sender=address.strip().lower(),
        sender_name=decode_header_value(name, hint),
        subject=decode_header_value(raw_header(message, "Subject"), hint),
        text=body[0] if body else "",
        attachments=tuple(attachments),
        message_id=message_id(message),
        thread_ids=tuple(
            _MESSAGE_ID.findall(
                f"{raw_header(message, 'In-Reply-To') or ''} {raw_header(message, 'References') or ''}"
            )
        ),
        headers=message,
    )


def raw_header(message: Message, name: str) -> str | None:
    """Return a header's first value as received (8-bit bytes as surrogate escapes)."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def message_id(message: Message) -> str | None:
    """Return the mail's own Message-ID as <id>, if it has one."""
    found = _MESSAGE_ID.search(raw_header(message, "Message-ID") or "")
    return found.group(0) if found else None


def _check_structure(part: Message, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MailRefused(f"MIME parts nested deeper than {MAX_DEPTH}", "malformed")
    broken = [d for d in part.defects if isinstance(d, BROKEN)]
    if broken:
        raise MailRefused(f"malformed MIME: {type(broken[0]).__name__}", "malformed")
    for child in _children(part):
        _check_structure(child, depth + 1)


def _collect(part: Message, body: list[str], attachments: list[Attachment]) -> None:
    """Walk the parts: the first plain (else HTML) text is the body, files are listed."""
    kind = part.get_content_type()
    if kind == "message/rfc822" or (part.is_multipart() and kind.startswith("message/")):
        attachments.append(Attachment(_filename(part) or "message.eml", len(part.as_bytes())))
        return
    if part.is_multipart():
        children = _children(part)
        if kind == "multipart/alternative":
            children = sorted(children, key=lambda c: c.get_content_type() != "text/plain")
        for child in children:
            _collect(child, body, attachments)
        return
    name = _filename(part)
    data = _payload(part)
    is_file = name is not None or (part.get("Content-Disposition") or "").lower().startswith(
        "attachment"
    )
    if not is_file and kind in ("text/plain", "text/html"):
        if not body:
            text = decode_bytes(data, part.get_content_charset())
            body.append(html_to_text(text) if kind == "text/html" else tidy(text))
        return
    attachments.append(Attachment(name or kind, len(data)))


def _children(part: Message) -> list[Message]:
    if not part.is_multipart():
        return []
    payload = part.get_payload()
    return (
        [child for child in payload if isinstance(child, Message)]
        if isinstance(payload, list)
        else []
    )


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    # Decoding records what it could not read on the part itself.
    if any(isinstance(d, BROKEN) for d in part.defects):
        raise MailRefused("a part's transfer encoding is malformed", "malformed")
    return data if isinstance(data, bytes) else b""


def _filename(part: Message) -> str | None:
    name = part.get_filename()
    if name is None:
        return None
    return decode_header_value(name) or None

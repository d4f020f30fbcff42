"""Poll an IMAP mailbox over TLS (IMAPS or STARTTLS, certificates verified) for new mail.

Each round reads at most `batch` unseen mails with BODY.PEEK (reading sets no flag), hands
each to the gateway, and marks it \\Seen only after its incident or note is committed. A
refused mail stays on the server: moved to `refused_folder`, or flagged $TocsinRefused (and
left unread, for a person to look at). A database outage ends the round with the mail still
unseen, so the next round takes it again.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tocsin.bridge.errors import MailboxUnavailable, StoreUnavailable
from tocsin.bridge.mailin.gateway import Gateway
from tocsin.bridge.platform.mailin_settings import ImapSource

log = logging.getLogger(__name__)
REFUSED_FLAG = "$TocsinRefused"
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")

Connect = Callable[[ImapSource], imaplib.IMAP4]


def tls_context(source: ImapSource) -> ssl.SSLContext:
    """Return a client context that verifies the server (by `ca_file`, else the system CAs)."""
    return ssl.create_default_context(cafile=str(source.ca_file) if source.ca_file else None)


def open_mailbox(source: ImapSource) -> imaplib.IMAP4:
    """Connect over TLS and log in; translate every failure into MailboxUnavailable."""
    where = f"imap {source.host}:{source.port}"
    try:
        if source.security == "imaps":
            box: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                source.host, source.port, ssl_context=tls_context(source), timeout=source.timeout
            )
        else:
            box = imaplib.IMAP4(source.host, source.port, timeout=source.timeout)
            box.starttls(tls_context(source))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxUnavailable(f"{where}: cannot connect over TLS: {exc}") from exc
    try:
        box.login(source.username, source.password)
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(box)
        raise MailboxUnavailable(f"{where}: login as {source.username!r} refused") from exc
    return box


class ImapPoller:
    """One polling round per call: the task a Periodic worker runs."""

    def __init__(self, gateway: Gateway, source: ImapSource, connect: Connect = open_mailbox):
        self.gateway = gateway
        self.source = source
        self.connect = connect

    def __call__(self, now: datetime) -> int:
        """Take up to `batch` unseen mails; return how many were handled."""
        polls = self.gateway.metrics.polls
        try:
            handled = self._connected_round()
        except MailboxUnavailable:
            polls.labels(result="failed").inc()
            raise
        polls.labels(result="ok").inc()
        return handled

    def _connected_round(self) -> int:
        box = self.connect(self.source)
        try:
            return self._round(box)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(
                f"imap {self.source.host}:{self.source.port}: {self.source.folder}: {exc}"
            ) from exc
        finally:
            _close(box)

    def _round(self, box: imaplib.IMAP4) -> int:
        _ok(box.select(_quoted(self.source.folder)), f"select {self.source.folder}")
        found = _ok(box.uid("SEARCH", "UNSEEN", "UNKEYWORD", REFUSED_FLAG), "search")
        uids = (found[0] or b"").split()[: self.source.batch]
        handled = 0
        for uid in uids:
            if not self._one(box, uid.decode()):
                break
            handled += 1
        return handled

    def _one(self, box: imaplib.IMAP4, uid: str) -> bool:
        """Handle one mail; return False when the store is down and the round must end."""
        sized = _ok(box.uid("FETCH", uid, "(RFC822.SIZE)"), "fetch size")
        size = _SIZE.search(b" ".join(p if isinstance(p, bytes) else p[0] for p in sized if p))
        limit = self.gateway.settings.max_bytes
        if size is not None and int(size.group(1)) > limit:
            detail = f"uid {uid}: {int(size.group(1))} bytes, over the limit of {limit}"
            self.gateway.refused("imap", "too_large", detail)
            self._set_aside(box, uid)
            return True
        raw = _body(_ok(box.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch"))
        try:
            outcome = self.gateway.take(raw, envelope_sender=None, transport="imap")
        except StoreUnavailable as exc:
            self.gateway.deferred("imap", "unavailable", exc.message)
            return False
        except Exception:  # one mail the bridge cannot store must not hold up the others
            log.exception("imap: uid %s not stored; left unread for the next round", uid)
            self.gateway.deferred("imap", "error", f"uid {uid}")
            return True
        if outcome.action == "refused":
            self._set_aside(box, uid)
        else:
            _ok(box.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "mark seen")
        return True

    def _set_aside(self, box: imaplib.IMAP4, uid: str) -> None:
        folder = self.source.refused_folder
        if folder is not None:
            typ, _ = box.uid("MOVE", uid, _quoted(folder))
            if typ != "OK":  # the folder may not exist yet: create it once and try again
                box.create(_quoted(folder))
                typ, _ = box.uid("MOVE", uid, _quoted(folder))
            if typ == "OK":
                return
            log.warning("imap: cannot move uid %s to %r; flagging it instead", uid, folder)
        _ok(box.uid("STORE", uid, "+FLAGS", f"({REFUSED_FLAG})"), "flag refused")


def _ok(answer: tuple[str, list[Any]], what: str) -> list[Any]:
    typ, data = answer
    if typ != "OK":
        said = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
        raise imaplib.IMAP4.error(f"{what}: {typ} {said[:200]}")
    return data


def _body(data: list[Any]) -> bytes:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    raise imaplib.IMAP4.error("fetch returned no message body")


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _close(box: imaplib.IMAP4) -> None:
    try:
        box.logout()
    except (OSError, imaplib.IMAP4.error):
        pass  # the connection is going away either way

"""An SMTP or LMTP listener (aiosmtpd) the mail server hands inbound mail to.

A mail is answered 250 only after its incident or note is committed; a refusal is a 5xx, so
the sender's own server returns a bounce and nothing is lost silently; a database outage or any
other fault is 451, so the sending server keeps the mail and tries again. Machine mail (an
auto-reply, a bounce) is accepted with 250 and dropped: refusing it would bounce a bounce.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from functools import partial
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from tocsin.bridge.errors import BridgeError, ConfigError, StoreUnavailable
from tocsin.bridge.mailin.gateway import Gateway
from tocsin.bridge.platform.mailin_settings import SmtpListen

log = logging.getLogger(__name__)
RETRY_LATER = "451 4.3.0 cannot store the mail now; try again later"
# aiosmtpd's own refusals of a mail too large or with too long a line: logged and counted too.
_LIMIT_REPLIES = {
    "552 Error: Too much mail data": "too_large",
    "552 Error: message size exceeds fixed maximum message size": "too_large",
    "500 Line too long (see RFC5321 4.5.3.1.6)": "malformed",
}


def reply_line(code: str, detail: str) -> str:
    """Return one SMTP reply line: ASCII, no line breaks, short."""
    text = re.sub(r"[^\x20-\x7e]+", " ", detail)[:200].strip()
    return f"{code} {text}" if text else code


def server_tls(settings: SmtpListen) -> ssl.SSLContext | None:
    """Return the context STARTTLS uses, when the listener has a certificate."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"mailin.smtp: cannot load {settings.tls_cert} and its key: {exc}"
        ) from exc
    return context


class MailHandler:
    """aiosmtpd handler: check recipients, give each mail to the gateway off the event loop."""

    def __init__(self, gateway: Gateway, settings: SmtpListen) -> None:
        self.gateway = gateway
        self.settings = settings
        self.transport = settings.protocol

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Accept only the configured addresses (any, when none are configured)."""
        wanted = self.settings.recipients
        if wanted and address.lower() not in wanted:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        """Store the mail, then answer: once per recipient under LMTP."""
        reply = await asyncio.get_running_loop().run_in_executor(
            None, partial(self.answer, bytes(envelope.original_content), envelope.mail_from)
        )
        count = len(envelope.rcpt_tos) if self.transport == "lmtp" else 1
        return "\r\n".join([reply] * max(1, count))

    def answer(self, raw: bytes, envelope_sender: str | None) -> str:
        """Return the reply for one mail after storing what it means."""
        try:
            outcome = self.gateway.take(
                raw, envelope_sender=envelope_sender, transport=self.transport
            )
        except StoreUnavailable as exc:
            self.gateway.deferred(self.transport, "unavailable", exc.message)
            return RETRY_LATER
        except BridgeError as exc:
            self.gateway.deferred(self.transport, "error", exc.message)
            return RETRY_LATER
        except Exception:  # a mail must get an answer that keeps it, whatever went wrong
            log.exception("%s: mail not stored", self.transport)
            self.gateway.deferred(self.transport, "error", "unexpected fault")
            return RETRY_LATER
        if outcome.action == "refused":
            return reply_line(outcome.smtp_code, outcome.detail)
        return "250 2.0.0 OK"


class _Observed:
    """Mixin for aiosmtpd's server: report the size refusals aiosmtpd answers itself."""

    on_limit: Any = None

    async def push(self, status: AnyStr) -> None:
        text = status if isinstance(status, str) else status.decode("ascii", "replace")
        reason = _LIMIT_REPLIES.get(text)
        if reason is not None and self.on_limit is not None:
            self.on_limit(reason, text)
        await super().push(status)  # type: ignore[misc]


class _ObservedSmtp(_Observed, SMTP):
    pass


class _ObservedLmtp(_Observed, LMTP):
    pass


class _Controller(Controller):
    def __init__(self, handler: MailHandler, settings: SmtpListen, max_bytes: int) -> None:
        super().__init__(
            handler,
            hostname=settings.host,
            port=settings.port,
            data_size_limit=max_bytes,
            ident="tocsin-bridge",
            enable_SMTPUTF8=True,  # unencoded UTF-8 headers (RFC 6532) are read as such
            tls_context=server_tls(settings),
            require_starttls=settings.require_tls,
        )
        self.mail_handler = handler

    def factory(self) -> SMTP:
        kind = _ObservedLmtp if self.mail_handler.transport == "lmtp" else _ObservedSmtp
        server = kind(self.handler, **self.SMTP_kwargs)
        server.on_limit = self._limit
        return server

    def _limit(self, reason: str, text: str) -> None:
        gateway = self.mail_handler.gateway
        gateway.refused(self.mail_handler.transport, reason, text)


class SmtpListener:
    """A worker: start() binds and serves on its own thread, stop() closes the port."""

    def __init__(self, gateway: Gateway, settings: SmtpListen, max_bytes: int) -> None:
        self.settings = settings
        self.controller = _Controller(MailHandler(gateway, settings), settings, max_bytes)

    @property
    def port(self) -> int:
        """Return the port listened on."""
        return self.settings.port

    def start(self) -> None:
        """Bind the port and serve."""
        self.controller.start()
        log.info("%s listener on %s", self.settings.protocol, self.settings.listen)

    def stop(self) -> None:
        """Close the port; a mail in hand is answered 451 or completed first."""
        self.controller.stop()

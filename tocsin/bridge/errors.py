"""The bridge's exceptions: one root, each carrying how it surfaces (exit code or HTTP status).

TocsinError               tocsin/common/errors.py: the root both programs share
BridgeError(TocsinError)
 ├── ConfigError          a config or policy file is wrong (exit 78, EX_CONFIG)
 ├── StoreUnavailable     the database cannot be reached or stays locked (HTTP 503, retry)
 │    └── Overloaded      more ingest work in hand than the bridge takes, or it waited too long (503)
 ├── NotFound             no such incident, channel, outbox entry (HTTP 404)
 ├── Conflict             an action the incident's state forbids, e.g. ack a closed one (HTTP 409)
 ├── InvalidInput         a request or command argument is wrong (HTTP 422, exit 2)
 │    ├── MalformedInput  the request body is not JSON at all (HTTP 400)
 │    ├── PayloadTooLarge the request body or batch is over its limit (HTTP 413)
 │    └── BodyTimeout     the request body did not arrive in time (HTTP 408)
 ├── AuthError            no or unknown credentials (HTTP 401)
 │    ├── Forbidden       credentials of the wrong role (HTTP 403)
 │    └── Throttled       too many failed sign-ins; try again later (HTTP 429)
 ├── DeliveryFailed       a notification channel refused or did not answer (retried by the outbox)
 │    └── DeliveryRefused a receiver refused it for good (4xx): a dead letter at once, no retry
 │         └── DeliveryUncertain  a phone provider may have accepted it: never sent twice
 ├── MailRefused          an inbound mail the gateway will not take (SMTP 5xx; IMAP: set aside)
 ├── MailboxUnavailable   the IMAP server cannot be reached, refuses the login or a command
 ├── ClientError          the CLI could not talk to a bridge (exit 69, EX_UNAVAILABLE)
 └── AddressInUse         serve's listen port is taken; it may come free, so retry (exit 75, EX_TEMPFAIL)
"""

from __future__ import annotations

from tocsin.common.errors import EX_CONFIG, EX_TEMPFAIL, EX_UNAVAILABLE, TocsinError


class BridgeError(TocsinError):
    """Root of every error the bridge raises on purpose."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(BridgeError):
    exit_code = EX_CONFIG
    http_status = 500


class StoreUnavailable(BridgeError):
    exit_code = EX_UNAVAILABLE
    http_status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(StoreUnavailable):
    """Ingest work refused or given up so that the sender hears at once; `reason` says which."""

    def __init__(self, message: str, retry_after: int = 5, reason: str = "in_flight") -> None:
        super().__init__(message, retry_after)
        self.reason = reason


class ReportsBusy(StoreUnavailable):
    """An SLA report refused or given up: its processes are all busy, it took too long, or died."""


class NotFound(BridgeError):
    exit_code = 1
    http_status = 404


class Conflict(BridgeError):
    exit_code = 1
    http_status = 409


class InvalidInput(BridgeError):
    exit_code = 2
    http_status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MalformedInput(InvalidInput):
    http_status = 400


class PayloadTooLarge(InvalidInput):
    http_status = 413


class BodyTimeout(InvalidInput):
    http_status = 408


class AuthError(BridgeError):
    exit_code = 77
    http_status = 401


class Forbidden(AuthError):
    http_status = 403

    def __init__(self, message: str, needed_role: str | None = None) -> None:
        super().__init__(message)
        self.needed_role = needed_role  # the lowest role that may, named in the JSON answer


class Throttled(AuthError):
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryFailed(BridgeError):
    exit_code = EX_UNAVAILABLE
    http_status = 502

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryRefused(DeliveryFailed):
    """The receiver answered that this request is wrong (bad URL, token, payload): never retried."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of the refusal


class DeliveryUncertain(DeliveryRefused):
    """A call or text may have been accepted before the answer was lost: sending again could ring twice."""


class MailRefused(BridgeError):
    """A mail too large, malformed or undecodable: `reason` names which, for logs and metrics."""

    def __init__(self, message: str, reason: str, smtp_code: str = "550 5.6.0") -> None:
        super().__init__(message)
        self.reason = reason
        self.smtp_code = smtp_code


class MailboxUnavailable(BridgeError):
    """The IMAP mailbox could not be read this round; its mail stays there for the next."""

    exit_code = EX_UNAVAILABLE


class ClientError(BridgeError):
    exit_code = EX_UNAVAILABLE


class AddressInUse(BridgeError):
    """The listen port is held by another process (often the old bridge still stopping)."""

    exit_code = EX_TEMPFAIL

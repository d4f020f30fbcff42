"""Signed, expiring, single-use links: one-click acknowledge, and the reporter's survey.

A token is base64url(JSON claim) "." base64url(HMAC-SHA256(key, claim)). The key is derived
from the config's secret_key for each purpose, so the same secret signing something else (or
an ack link offered as a survey link) can never yield a valid link. A used link's nonce is
kept in used_links until it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from tocsin.bridge.errors import BridgeError
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store.schema import used_links

DEFAULT_TTL = timedelta(hours=24)
ACK = b"tocsin ack link v1\x00"
SURVEY = b"tocsin survey link v1\x00"
_NAMES = {ACK: "an acknowledge link", SURVEY: "a survey link"}


class LinkRejected(BridgeError):
    """An acknowledge link that must change nothing: tampered, expired or already used."""

    STATUS = {"invalid": 400, "tampered": 403, "expired": 410, "replayed": 409}

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.http_status = self.STATUS[reason]


@dataclass(frozen=True)
class AckClaim:
    """What a link allows: this person acknowledges this incident, once, before expires_at."""

    incident_id: int
    person: str
    expires_at: datetime
    nonce: str


def _key(secret_key: bytes | str, purpose: bytes = ACK) -> bytes:
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hashlib.sha256(purpose + raw).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_ack(
    secret_key: bytes | str,
    *,
    incident_id: int,
    person: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    nonce: str | None = None,
    purpose: bytes = ACK,
) -> str:
    """Return a token letting `person` acknowledge `incident_id` until now + ttl.

    With purpose=SURVEY it lets the reporter (person "reporter") answer its survey instead.
    """
    expires = int((as_utc(now) + ttl).timestamp())
    claim = {"i": incident_id, "p": person, "e": expires, "n": nonce or secrets.token_urlsafe(16)}
    body = json.dumps(claim, separators=(",", ":"), ensure_ascii=False).encode()
    mac = hmac.new(_key(secret_key, purpose), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def verify_ack(
    secret_key: bytes | str, token: str, now: datetime, purpose: bytes = ACK
) -> AckClaim:
    """Return the claim of a genuine, unexpired token; raise LinkRejected saying why not."""
    body_text, dot, mac_text = token.partition(".")
    invalid = f"this is not {_NAMES[purpose]}"
    try:
        if not dot:
            raise ValueError("no signature")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, binascii.Error) as exc:
        raise LinkRejected("invalid", invalid) from exc
    expected = hmac.new(_key(secret_key, purpose), body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise LinkRejected("tampered", "this link was altered or was not issued by this bridge")
    try:
        raw = json.loads(body)
        claim = AckClaim(
            incident_id=int(raw["i"]),
            person=str(raw["p"]),
            expires_at=datetime.fromtimestamp(int(raw["e"]), tz=as_utc(now).tzinfo),
            nonce=str(raw["n"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkRejected("invalid", invalid) from exc
    if as_utc(now) >= claim.expires_at:
        raise LinkRejected(
            "expired", f"this link expired at {claim.expires_at.isoformat()}; open the incident"
        )
    return claim


def link_used(conn: Connection, claim: AckClaim) -> bool:
    """Return whether the link was already used."""
    found = conn.execute(select(used_links.c.nonce).where(used_links.c.nonce == claim.nonce))
    return found.first() is not None


def consume(conn: Connection, claim: AckClaim, now: datetime) -> None:
    """Mark the link used in the caller's transaction; raise LinkRejected if it already was."""
    replayed = LinkRejected("replayed", "this link was already used; it works only once")
    if link_used(conn, claim):
        raise replayed
    conn.execute(delete(used_links).where(used_links.c.expires_at < now))
    try:
        conn.execute(
            insert(used_links).values(nonce=claim.nonce, used_at=now, expires_at=claim.expires_at)
        )
    except IntegrityError as exc:  # a concurrent click won the race; the caller rolls back
        raise replayed from exc


def ack_url(public_url: str, token: str) -> str:
    """Return the link a page carries: {public_url}/ack/{token}."""
    return f"{public_url.rstrip('/')}/ack/{token}"


def survey_url(public_url: str, token: str) -> str:
    """Return the link the follow-up mail carries: {public_url}/survey/{token}."""
    return f"{public_url.rstrip('/')}/survey/{token}"

"""Per-person API tokens and one-time invite links: shown once, stored as sha256, revocable.

An API token starts with `tp_` so a bearer is looked up here only when it can be one. An invite
link carries a random nonce, its expiry and an HMAC over both and the person's name; the row of
the nonce's digest makes it single-use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tocsin.bridge.accounts.sessions import digest
from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.store.schema import account_tokens

API_PREFIX = "tp_"
LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is written at most this often per token
MAX_LABEL = 100


@dataclass(frozen=True)
class ApiToken:
    """What is shown about a token after its creation: never the token itself."""

    id: int
    name: str
    label: str
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person": self.name,
            "label": self.label,
            "created_at": rfc3339(self.created_at),
            "created_by": self.created_by,
            "last_used_at": rfc3339(self.last_used_at),
            "revoked_at": rfc3339(self.revoked_at),
        }


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=int(row.id),
        name=str(row.name),
        label=str(row.label),
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


def create_token(
    conn: Connection, name: str, label: str, by: str | None, now: datetime
) -> tuple[str, int]:
    """Store a new API token of `name`; return it (the only time it is seen) and its id."""
    label = label.strip()
    if not 1 <= len(label) <= MAX_LABEL or "\x00" in label:
        raise InvalidInput(f"label must be 1-{MAX_LABEL} characters", field="label")
    raw = API_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(account_tokens)
        .values(
            digest=digest(raw), name=name, kind="api", label=label, created_at=now, created_by=by
        )
        .returning(account_tokens.c.id)
    ).scalar_one()
    return raw, int(token_id)


def tokens_of(conn: Connection, name: str | None) -> list[ApiToken]:
    """Return the API tokens of `name` (None: everyone's), newest first, revoked ones too."""
    query = select(account_tokens).where(account_tokens.c.kind == "api")
    if name is not None:
        query = query.where(account_tokens.c.name == name)
    return [_token(row) for row in conn.execute(query.order_by(account_tokens.c.id.desc()))]


def token_by_id(conn: Connection, token_id: int) -> ApiToken | None:
    """Return one API token by its id."""
    row = conn.execute(
        select(account_tokens).where(
            account_tokens.c.id == token_id, account_tokens.c.kind == "api"
        )
    ).first()
    return None if row is None else _token(row)


def revoke_token(conn: Connection, token_id: int, now: datetime) -> bool:
    """Revoke an API token; return whether it was live."""
    result = conn.execute(
        update(account_tokens)
        .where(
            account_tokens.c.id == token_id,
            account_tokens.c.kind == "api",
            account_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount > 0


def use_token(conn: Connection, raw: str, now: datetime) -> str | None:
    """Return the person a live API token acts as, noting when it was last used."""
    if not raw.startswith(API_PREFIX) or len(raw) > 200:
        return None
    row = conn.execute(
        select(account_tokens).where(
            account_tokens.c.digest == digest(raw), account_tokens.c.kind == "api"
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    last = as_utc(row.last_used_at) if row.last_used_at is not None else None
    if last is None or now - last >= LAST_USED_STEP:
        conn.execute(
            update(account_tokens).where(account_tokens.c.id == row.id).values(last_used_at=now)
        )
    return str(row.name)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _invite_signature(secret: bytes, name: str, nonce: str, expires: int) -> str:
    key = hmac.new(secret, b"tocsin-invite-v1", hashlib.sha256).digest()
    message = f"{name}\x00{nonce}\x00{expires}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def create_invite(
    conn: Connection, name: str, by: str | None, now: datetime, ttl: timedelta, secret: bytes
) -> str:
    """Store a one-time invite for `name` and return its code: nonce.expiry.signature."""
    nonce = secrets.token_urlsafe(24)
    expires = now + ttl
    conn.execute(
        insert(account_tokens).values(
            digest=digest(nonce),
            name=name,
            kind="invite",
            label="invite",
            created_at=now,
            created_by=by,
            expires_at=expires,
        )
    )
    stamp = int(expires.timestamp())
    return f"{nonce}.{stamp}.{_invite_signature(secret, name, nonce, stamp)}"


def invited(conn: Connection, code: str, now: datetime, secret: bytes) -> tuple[int, str] | None:
    """Return (row id, person) of a valid, unexpired, unused invite code, else None."""
    parts = code.split(".")
    if len(parts) != 3 or len(code) > 300 or not parts[1].isdigit():
        return None
    nonce, stamp, signature = parts[0], int(parts[1]), parts[2]
    if stamp <= now.timestamp():
        return None
    row = conn.execute(
        select(account_tokens).where(
            account_tokens.c.digest == digest(nonce), account_tokens.c.kind == "invite"
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    expected = _invite_signature(secret, str(row.name), nonce, stamp)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return int(row.id), str(row.name)


def spend_invite(conn: Connection, invite_id: int, now: datetime) -> bool:
    """Mark an invite used; return False if another request used it first."""
    result = conn.execute(
        update(account_tokens)
        .where(account_tokens.c.id == invite_id, account_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now, last_used_at=now)
    )
    return result.rowcount > 0

"""The browser session: an HMAC-signed cookie holding the person's name, a CSRF token and the id
of the server-side session row (tocsin.bridge.accounts.sessions) that signing out revokes.

Nothing secret goes into the cookie but that random id (never a token or password); the
signature stops forgery and the expiry bounds how long a stolen cookie is worth anything. Every
session, signed in or not, carries a CSRF token, so the login form is protected as much as the
incident forms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_COOKIE = "tocsin_session"
SESSION_LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    """Who is signed in (None: nobody yet) and the token their forms must echo."""

    csrf: str
    operator: str | None = None
    expires: float = 0.0
    # Binds the session to the token it was opened with: rotating the token signs everyone out.
    token_tag: str | None = None
    sid: str | None = None  # the server-side session row's id; signed in only with a live row


def new_session(
    now: datetime,
    operator: str | None = None,
    token_tag: str | None = None,
    sid: str | None = None,
) -> Session:
    """Start a session with a fresh CSRF token; call again at login to rotate it."""
    return Session(
        csrf=secrets.token_urlsafe(32),
        operator=operator,
        expires=(now + SESSION_LIFETIME).timestamp(),
        token_tag=token_tag,
        sid=sid,
    )


def token_tag(token_sha256: str, secret: bytes) -> str:
    """Return a short keyed tag of a token's digest, safe to keep in a cookie."""
    return hmac.new(_key(secret), token_sha256.encode(), hashlib.sha256).hexdigest()[:24]


def _key(secret: bytes) -> bytes:
    # Derive a purpose-bound key so the config's secret can serve other signers too.
    return hmac.new(secret, b"tocsin-web-session-v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_session(session: Session, secret: bytes) -> str:
    """Serialise and sign a session for the cookie."""
    body = _b64(
        json.dumps(
            {
                "c": session.csrf,
                "o": session.operator,
                "e": session.expires,
                "t": session.token_tag,
                "s": session.sid,
            },
            separators=(",", ":"),
        ).encode()
    )
    signature = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def decode_session(cookie: str | None, secret: bytes, now: datetime) -> Session | None:
    """Return the cookie's session if its signature is good and it has not expired."""
    if not cookie or len(cookie) > 4096:
        return None
    body, _, signature = cookie.partition(".")
    expected = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        data = json.loads(_unb64(body))
        session = Session(
            csrf=str(data["c"]),
            operator=data["o"],
            expires=float(data["e"]),
            token_tag=data["t"],
            sid=data.get("s"),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not all(
        isinstance(value, str | None)
        for value in (session.operator, session.token_tag, session.sid)
    ):
        return None
    if session.expires <= now.timestamp():
        return None
    return session


def csrf_matches(session: Session | None, submitted: str | None) -> bool:
    """Return whether a form's CSRF field equals its session's token (constant time)."""
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())


def encode_signed(data: dict[str, object], secret: bytes, purpose: bytes) -> str:
    """Serialise and sign a small payload for a cookie, bound to `purpose`."""
    body = _b64(json.dumps(data, separators=(",", ":")).encode())
    signature = _b64(
        hmac.new(_key(secret), purpose + b":" + body.encode(), hashlib.sha256).digest()
    )
    return f"{body}.{signature}"


def decode_signed(cookie: str | None, secret: bytes, purpose: bytes) -> dict[str, object] | None:
    """Return the payload of a cookie encode_signed made for `purpose`, None if forged or bad."""
    if not cookie or len(cookie) > 4096 or "." not in cookie:
        return None
    body, _, signature = cookie.partition(".")
    expected = _b64(hmac.new(_key(secret), purpose + b":" + body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        data = json.loads(_unb64(body))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


FLASH_COOKIE = "tocsin_flash"


def encode_flash(message: str, csrf: str, secret: bytes) -> str:
    """Sign a refusal for the page the browser is sent back to, bound to this session."""
    body = _b64(json.dumps({"m": message[:2000], "c": csrf}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(secret), b"flash:" + body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def decode_flash(cookie: str | None, csrf: str, secret: bytes) -> str | None:
    """Return the refusal a signed flash cookie of this session carries, else None."""
    if not cookie or "." not in cookie:
        return None
    body, _, signature = cookie.partition(".")
    expected = _b64(hmac.new(_key(secret), b"flash:" + body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        data = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("c") != csrf or not isinstance(data.get("m"), str):
        return None
    return str(data["m"])

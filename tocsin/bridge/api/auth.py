"""Bearer tokens: ingest tokens for senders, operator tokens for people; nothing else passes.

Tokens are compared by their sha256 digests with hmac.compare_digest against every configured
token, so timing reveals neither which token nor how much of one matched. A login layer (the
web UI's session) may instead set `request.state.principal` before these checks run.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import AuthError, Forbidden
from tocsin.bridge.platform.config import Token
from tocsin.bridge.runtime import Runtime


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's (or person's) name, recorded as the actor, and the role."""

    name: str
    role: str


def identify(tokens: tuple[Token, ...], presented: str) -> Token | None:
    """Return the configured token matching `presented`, comparing in constant time."""
    candidate = hashlib.sha256(presented.encode()).hexdigest().encode()
    found: Token | None = None
    for token in tokens:
        if hmac.compare_digest(candidate, token.sha256.encode()):
            found = token
    return found


def authenticate(request: Request, runtime: Runtime) -> Principal:
    """Return the caller, from a session principal or an Authorization: Bearer token."""
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("missing bearer token: send 'Authorization: Bearer TOKEN'")
    token = identify(runtime.config.tokens, value.strip())
    if token is None:
        raise AuthError("unknown token")
    return Principal(name=token.name, role=token.role)


def article(word: str) -> str:
    """Return 'an' before a vowel ('an ingest token'), else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def admit(request: Request, runtime: Runtime, role: str) -> Principal:
    """Return the caller if it has `role`: AuthError (401) without a token, Forbidden (403) else."""
    principal = authenticate(request, runtime)
    if principal.role != role:
        raise Forbidden(
            f"{article(principal.role)} {principal.role} token may not do this; "
            f"{article(role)} {role} token is needed"
        )
    return principal


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    """Return a dependency that admits only callers of `role` (401 without token, 403 other role)."""

    async def dependency(request: Request, runtime: RuntimeDep) -> Principal:
        return admit(request, runtime, role)

    return dependency


ingest = require("ingest")
operator = require("operator")

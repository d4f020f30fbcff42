"""Who is calling and what they may do: shared tokens, people's API tokens, and roles.

Shared tokens are compared by their sha256 digests with hmac.compare_digest against every
configured token, so timing reveals neither which token nor how much of one matched. A bearer
starting with `tp_` is a person's own API token, looked up by digest. A login layer (the web
UI's session) may instead set `request.state.principal` before these checks run.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from tocsin.bridge.accounts import roles
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import AuthError, Forbidden
from tocsin.bridge.platform.config import Token
from tocsin.bridge.runtime import Runtime


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's (or person's) name, recorded as the actor, and the role."""

    name: str
    role: str
    person: bool = False  # signed in or calling with their own API token, not a shared token


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
    if token is not None:
        return Principal(name=token.name, role=roles.token_role(token.role))
    person = runtime.accounts.token_person(value.strip())
    role = runtime.accounts.role_of(person) if person is not None else None
    if person is None or role is None:
        raise AuthError("unknown token")
    return Principal(name=person, role=role, person=True)


def article(word: str) -> str:
    """Return 'an' before a vowel ('an ingest token'), else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def admit(request: Request, runtime: Runtime, permission: str) -> Principal:
    """Return the caller if it may `permission`: AuthError (401) without a token, Forbidden (403) else."""
    principal = authenticate(request, runtime)
    if permission == roles.INGEST:
        if principal.role != roles.INGEST:
            raise Forbidden(
                f"{article(principal.role)} {principal.role} token may not do this; "
                "an ingest token is needed",
                needed_role=roles.INGEST,
            )
        return principal
    if principal.role == roles.INGEST:
        needed = roles.needed_role(permission)
        raise Forbidden(
            "an ingest token may not do this; an operator token or a person with the "
            f"{needed} role is needed",
            needed_role=needed,
        )
    roles.check(principal.role, permission)
    return principal


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """Return a dependency admitting callers who may `permission` (401 without token, 403 else)."""

    async def dependency(request: Request, runtime: RuntimeDep) -> Principal:
        return admit(request, runtime, permission)

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


ingest = require(roles.INGEST)
reader = require("read")
responder = require("respond")
communicator = require("communicate")
registrar = require("register")
closer = require("close")
manager = require("manage")
admin = require("administer")

"""/api/v1/tokens: a person's own API tokens for the CLI and scripts; an admin's for anyone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from tocsin.bridge.accounts import roles
from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.api.params import RowId
from tocsin.bridge.errors import Forbidden

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
Person = Annotated[Principal, Depends(auth.reader)]


class NewToken(BaseModel):
    """A label saying where the token is used; `person` only for an admin making one for another."""

    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(min_length=1, max_length=100)]
    person: Annotated[str, Field(min_length=1, max_length=100)] | None = None


def owner(who: Principal, person: str | None) -> str | None:
    """Return whose tokens the caller may handle: their own, or (admin) anyone's; None: all."""
    if roles.allows(who.role, "administer"):
        return person
    if not who.person:
        raise Forbidden(
            "a shared token has no API tokens of its own; sign in as a person, or the admin "
            "role is needed",
            needed_role="admin",
        )
    if person not in (None, who.name):
        raise roles.refusal(who.role, "administer")
    return who.name


@router.get("")
def list_tokens(
    who: Person,
    runtime: RuntimeDep,
    person: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """List the caller's tokens (an admin: anyone's, or one person's), never their values."""
    tokens = runtime.accounts.tokens(owner(who, person))
    return {"tokens": [token.as_json() for token in tokens]}


@router.post("", status_code=201)
def create_token(body: NewToken, who: Person, runtime: RuntimeDep) -> dict[str, Any]:
    """Create a token; its value is in this answer only."""
    name = owner(who, body.person) or who.name
    raw, created = runtime.accounts.create_token(name, body.label, who.name)
    return {**created.as_json(), "token": raw}


@router.delete("/{token_id}")
def revoke_token(token_id: RowId, who: Person, runtime: RuntimeDep) -> dict[str, Any]:
    """Revoke a token at once; its last use stays on record."""
    token = runtime.accounts.token(token_id)
    owner(who, token.name)
    return runtime.accounts.revoke_token(token_id).as_json()

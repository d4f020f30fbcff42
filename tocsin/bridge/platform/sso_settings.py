"""The `sso:` section of the bridge config: the OpenID Connect provider people sign in through.

sso:
  issuer: https://idp.example.com/realms/ops   its /.well-known/openid-configuration is read
  client_id: tocsin
  client_secret_file: /etc/tocsin/oidc.secret  or client_secret_env: NAME, or client_secret
  scopes: [openid, profile, email]
  person_claim: preferred_username             the claim naming a person of the bridge
  role_claim: groups                           optional: a claim whose values map to roles
  roles: {oncall-admins: admin, oncall-leads: manager}   value -> role, the highest wins
  add_people: false                            true: an unknown name signs in as a new person
  timeout: 10s                                 for each call to the provider
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocsin.bridge.platform.values import flag, password, seconds, text
from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.common.yamlsource import shown

KEYS = (
    "issuer",
    "client_id",
    "client_secret",
    "client_secret_file",
    "client_secret_env",
    "scopes",
    "person_claim",
    "role_claim",
    "roles",
    "add_people",
    "timeout",
)
CLAIMS = ("person_claim", "role_claim")


@dataclass(frozen=True)
class SsoSettings:
    """Where and as whom the bridge asks an OpenID Connect provider who someone is."""

    issuer: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    person_claim: str = "preferred_username"
    role_claim: str | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    add_people: bool = False
    timeout: float = 10.0


def parse_sso(
    raw: Any, where: Where, base: Path, env: Mapping[str, str], roles: tuple[str, ...]
) -> SsoSettings | None:
    """Return the `sso:` settings, None when the section is absent; refuse a wrong key by name."""
    if raw is None:
        return None
    raw = as_mapping(raw, where, KEYS)
    issuer = text(raw.get("issuer"), where.key(raw, "issuer")).rstrip("/")
    if not issuer.startswith(("https://", "http://")):
        raise where.key(raw, "issuer").error(f"{shown(issuer)} is not an http(s) URL")
    scopes = tuple(
        str(s)
        for s in as_list(
            raw.get("scopes", ["openid", "profile", "email"]), where.key(raw, "scopes")
        )
    )
    if "openid" not in scopes:
        raise where.key(raw, "scopes").error("must include openid")
    mapping = as_mapping(raw.get("roles") or {}, where.key(raw, "roles"), None)
    for value, role in mapping.items():
        if role not in roles:
            raise where.key(raw, "roles").error(
                f"{shown(value)} maps to {shown(role)}, not one of {', '.join(roles)}"
            )
    optional = {key: text(raw[key], where.key(raw, key)) for key in CLAIMS if raw.get(key)}
    return SsoSettings(
        issuer=issuer,
        client_id=text(raw.get("client_id"), where.key(raw, "client_id")),
        client_secret=password(raw, where, base, env, key="client_secret"),
        scopes=scopes,
        person_claim=optional.get("person_claim", "preferred_username"),
        role_claim=optional.get("role_claim"),
        roles={str(k): str(v) for k, v in mapping.items()},
        add_people=flag(raw.get("add_people", False), where.key(raw, "add_people")),
        timeout=seconds(raw.get("timeout", "10s"), where.key(raw, "timeout")),
    )

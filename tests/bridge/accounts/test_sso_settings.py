"""The `sso:` config section: each mistake is refused naming the file, line and key."""

from __future__ import annotations

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import parse_config

BASE = {"issuer": "https://idp.example.com/", "client_id": "tocsin", "client_secret": "s"}


def test_a_minimal_section_takes_the_defaults() -> None:
    sso = parse_config({"sso": BASE}, "bridge.yml").sso
    assert sso is not None
    assert sso.issuer == "https://idp.example.com"  # no trailing slash: compared with the token's
    assert (sso.scopes, sso.person_claim, sso.role_claim) == (
        ("openid", "profile", "email"),
        "preferred_username",
        None,
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"issuer": "idp.example.com"}, "issuer"),
        ({"client_id": ""}, "client_id"),
        ({"scopes": ["profile"]}, "scopes"),
        ({"roles": {"ops": "superuser"}}, "roles"),
        ({"client_secret_env": "NO_SUCH_VARIABLE"}, "client_secret_env"),
        ({"add_people": "yes"}, "add_people"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_wrong_key_is_refused_by_name(change: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_config({"sso": {**BASE, **change}}, "bridge.yml", env={})


def test_the_secret_comes_from_the_environment() -> None:
    raw = {"sso": {**BASE, "client_secret": None, "client_secret_env": "OIDC_SECRET"}}
    sso = parse_config(raw, "bridge.yml", env={"OIDC_SECRET": "from-env"}).sso
    assert sso is not None and sso.client_secret == "from-env"
    assert "from-env" not in repr(sso)

"""Single sign-on against a real OpenID Connect provider process: code flow with PKCE, roles by group."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tests.bridge.testclient import TestClient
from tests.oidc import Provider, oidc_provider
from tocsin.bridge.platform.sso_settings import SsoSettings
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app

ANN = {"sub": "u-ann", "preferred_username": "ann", "groups": ["oncall-leads"]}
STRANGER = {"sub": "u-zed", "preferred_username": "zed"}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with oidc_provider(tmp_path_factory.mktemp("oidc"), ANN, STRANGER) as running:
        yield running


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock, provider: Provider) -> Iterator[Runtime]:
    sso = SsoSettings(
        issuer=provider.issuer,
        client_id="tocsin",
        client_secret="sso-secret",
        role_claim="groups",
        roles={"oncall-leads": "manager"},
        timeout=10.0,
    )
    config = dataclasses.replace(config_for(sqlite_url), sso=sso)
    built = make_runtime(sqlite_url, clock, config=config)
    built.accounts.add("ann", "Ann Lee", "responder")
    yield built
    built.store.dispose()


def through_provider(client: TestClient, who: str) -> requests.Response:
    """Start at /sso/login, press the user's button at the provider, return the provider's redirect."""
    start = client.get("/sso/login?next=/account", follow_redirects=False)
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    answer = requests.post(authorize, data={"sub": who}, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 303), answer.text
    return answer


def test_a_person_signs_in_through_the_provider_with_the_role_their_group_gives(
    anonymous: TestClient, runtime: Runtime
) -> None:
    answer = through_provider(anonymous, ANN["sub"])
    callback = urlsplit(answer.headers["location"])
    done = anonymous.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    page = anonymous.get("/account").text
    assert "Ann Lee" in page and "single sign-on" in page
    assert runtime.accounts.role_of("ann") == "manager"
    assert 'method="oidc",outcome="ok"} 1.0' in anonymous.get("/metrics").text


def test_the_bridge_sends_an_s256_pkce_challenge_of_its_verifier(anonymous: TestClient) -> None:
    start = anonymous.get("/sso/login", follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"] and "nonce" in query and "state" in query
    from tocsin.bridge.web.session import decode_signed
    from tocsin.bridge.web.sso_pages import PURPOSE, SSO_COOKIE

    pending = decode_signed(anonymous.cookies.get(SSO_COOKIE), b"test-secret", PURPOSE)
    assert pending is not None
    digest = hashlib.sha256(str(pending["v"]).encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]


def test_someone_the_bridge_does_not_know_is_refused_and_counted(
    anonymous: TestClient, runtime: Runtime
) -> None:
    answer = through_provider(anonymous, STRANGER["sub"])
    callback = urlsplit(answer.headers["location"])
    done = anonymous.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert done.headers["location"].startswith("/login?sso_error=")
    assert anonymous.get("/", follow_redirects=False).status_code == 303
    assert 'method="oidc",outcome="failed"} 1.0' in anonymous.get("/metrics").text


def test_a_forged_state_is_refused(anonymous: TestClient) -> None:
    answer = through_provider(anonymous, ANN["sub"])
    callback = urlsplit(answer.headers["location"])
    forged = re.sub(r"state=[^&]+", "state=forged", callback.query)
    done = anonymous.get(f"{callback.path}?{forged}", follow_redirects=False)
    assert "sso_error" in done.headers["location"]
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_the_login_page_offers_single_sign_on_when_configured(anonymous: TestClient) -> None:
    assert 'href="/sso/login' in anonymous.get("/login").text
    assert "单点登录" in anonymous.get("/login", headers={"Accept-Language": "zh-CN"}).text


def test_without_sso_the_pages_say_it_is_not_configured(tmp_path: Path) -> None:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'plain.db'}", FakeClock())
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert client.get("/sso/login", follow_redirects=False).status_code == 404
        assert 'href="/sso/login' not in client.get("/login").text
    runtime.store.dispose()

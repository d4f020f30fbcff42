"""People sign in to the board with a password: throttled, logged, counted, and signed out for good."""

from __future__ import annotations

import logging
import re

import pytest

from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import csrf_of
from tocsin.bridge.accounts.throttle import ACCOUNT_FREE
from tocsin.bridge.runtime import Runtime

PASSWORD = "correct horse battery"


@pytest.fixture
def ann(runtime: Runtime) -> str:
    """A person added by an admin, with a password."""
    runtime.accounts.add("ann", "Ann Lee", "responder")
    runtime.accounts.set_password("ann", PASSWORD)
    return "ann"


def sign_in(client: TestClient, name: str, password: str, **headers: str) -> int:
    form = client.get("/login", headers=headers).text
    data = {"csrf_token": csrf_of(form), "name": name, "password": password, "next": "/"}
    response = client.post("/login", data=data, headers=headers, follow_redirects=False)
    return response.status_code


def test_a_person_signs_in_with_their_password_and_acts_as_themselves(
    anonymous: TestClient, ann: str
) -> None:
    assert sign_in(anonymous, ann, PASSWORD) == 303
    board = anonymous.get("/")
    assert board.status_code == 200 and "Signed in as ann" in board.text
    assert "responder" in anonymous.get("/account").text


def test_a_wrong_password_is_refused_logged_without_the_secret_and_counted(
    anonymous: TestClient, ann: str, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.accounts"):
        assert sign_in(anonymous, ann, "guess-one-two-three") == 401
    assert "ann" in caplog.text and "guess-one-two-three" not in caplog.text
    assert anonymous.get("/", follow_redirects=False).status_code == 303
    metrics = anonymous.get("/metrics").text
    assert 'tocsin_bridge_sign_ins_total{method="password",outcome="failed"} 1.0' in metrics


def test_repeated_failures_make_the_account_wait_even_for_the_right_password(
    anonymous: TestClient, ann: str
) -> None:
    for _ in range(ACCOUNT_FREE):
        assert sign_in(anonymous, ann, "wrong-password-x") == 401
    assert sign_in(anonymous, ann, PASSWORD) == 429
    assert 'outcome="throttled"} 1.0' in anonymous.get("/metrics").text


def test_signing_out_revokes_the_session_so_its_cookie_is_worth_nothing(
    anonymous: TestClient, ann: str
) -> None:
    sign_in(anonymous, ann, PASSWORD)
    kept = dict(anonymous.cookies)
    csrf = csrf_of(anonymous.get("/account").text)
    anonymous.post("/logout", data={"csrf_token": csrf})
    anonymous.cookies.clear()
    for name, value in kept.items():
        anonymous.cookies.set(name, value)
    assert anonymous.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_sign_out_everywhere_ends_every_session_of_the_person(
    runtime: Runtime, ann: str, anonymous: TestClient
) -> None:
    from tocsin.bridge.server.app import create_app

    with TestClient(create_app(runtime, start_workers=False)) as other:
        sign_in(other, ann, PASSWORD)
        sign_in(anonymous, ann, PASSWORD)
        assert len(runtime.accounts.sessions_of(ann)) == 2
        csrf = csrf_of(anonymous.get("/account").text)
        anonymous.post("/account/sign-out-everywhere", data={"csrf_token": csrf})
        assert other.get("/", follow_redirects=False).status_code == 303
    assert runtime.accounts.sessions_of(ann) == []


def test_an_invite_link_shows_a_form_sets_the_password_once(
    anonymous: TestClient, runtime: Runtime
) -> None:
    runtime.accounts.add("bo", None, "viewer")
    code = runtime.accounts.invite("bo", "admin")
    form = anonymous.get(f"/invite/{code}")
    assert form.status_code == 200 and "bo" in form.text
    assert runtime.accounts.find("bo").has_password is False  # type: ignore[union-attr]
    data = {"csrf_token": csrf_of(form.text), "new_password": PASSWORD, "repeat_password": PASSWORD}
    assert anonymous.post(f"/invite/{code}", data=data, follow_redirects=False).status_code == 303
    assert sign_in(anonymous, "bo", PASSWORD) == 303
    again = anonymous.get(f"/invite/{code}")
    assert again.status_code == 404


def test_a_tampered_invite_link_is_refused(anonymous: TestClient, runtime: Runtime) -> None:
    runtime.accounts.add("bo", None, "viewer")
    code = runtime.accounts.invite("bo", "admin")
    nonce, stamp, signature = code.split(".")
    assert anonymous.get(f"/invite/{nonce}.{int(stamp) + 3600}.{signature}").status_code == 404


def test_the_sign_in_page_speaks_chinese(anonymous: TestClient) -> None:
    page = anonymous.get("/login", headers={"Accept-Language": "zh-CN"}).text
    assert "用户名" in page and "密码" in page
    assert re.search(r'<html lang="zh-CN"', page)


def test_a_policy_person_signs_in_with_the_role_the_policy_gives(
    anonymous: TestClient, runtime: Runtime
) -> None:
    runtime.accounts.set_password("manager", PASSWORD)
    assert sign_in(anonymous, "manager", PASSWORD) == 303
    assert anonymous.get("/reports").status_code == 200

"""The admin's /people page: add a person, give a role, make an invite link, sign someone out."""

from __future__ import annotations

import re

import pytest

from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import csrf_of
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.web.session import SESSION_COOKIE, encode_session, new_session


@pytest.fixture
def admin(anonymous: TestClient, runtime: Runtime) -> str:
    """The client signed in as an admin; returns the session's CSRF token."""
    runtime.accounts.add("root", "Root Admin", "admin")
    sid = runtime.accounts.open_session("root", "password", None)
    session = new_session(runtime.clock(), "root", None, sid)
    anonymous.cookies.set(SESSION_COOKIE, encode_session(session, b"test-secret"))
    return session.csrf


def test_an_admin_adds_a_person_and_gives_them_a_role(
    anonymous: TestClient, runtime: Runtime, admin: str
) -> None:
    added = anonymous.post(
        "/people",
        data={"csrf_token": admin, "name": "dana", "full_name": "Dana Wu", "role": "viewer"},
    )
    assert added.status_code == 200 and "Dana Wu" in added.text
    anonymous.post("/people/dana/role", data={"csrf_token": admin, "role": "service_desk"})
    assert runtime.accounts.role_of("dana") == "service_desk"


def test_an_admin_makes_an_invite_link_that_works(
    anonymous: TestClient, runtime: Runtime, admin: str
) -> None:
    page = anonymous.post("/people/expert/invite", data={"csrf_token": admin}).text
    link = re.search(r'id="invite-link">([^<]+)<', page)
    assert link is not None
    assert runtime.accounts.invitee(link.group(1).rsplit("/", 1)[1]) == "expert"


def test_an_unknown_role_is_refused_on_the_page(anonymous: TestClient, admin: str) -> None:
    refused = anonymous.post("/people/expert/role", data={"csrf_token": admin, "role": "god"})
    assert refused.status_code == 422 and "not one of" in refused.text


def test_the_people_page_speaks_chinese(anonymous: TestClient, admin: str) -> None:
    page = anonymous.get("/people", headers={"Accept-Language": "zh-CN"}).text
    assert "人员" in page and "邀请链接" in page
    assert csrf_of(page) == admin


def test_an_admin_signs_someone_out_everywhere(
    anonymous: TestClient, runtime: Runtime, admin: str
) -> None:
    runtime.accounts.open_session("expert", "password", None)
    anonymous.post("/people/expert/sign-out", data={"csrf_token": admin})
    assert runtime.accounts.sessions_of("expert") == []

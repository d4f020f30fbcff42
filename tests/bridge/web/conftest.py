"""A bridge app on a migrated SQLite database, and a browser-like client signed in to it."""

from __future__ import annotations

import re

import pytest

from tests.bridge.helpers import OPERATOR
from tests.bridge.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """Return the CSRF token a rendered form carries."""
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, token: str = OPERATOR) -> str:
    """Sign in through the login form and return the session's CSRF token."""
    form = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_of(form.text), "token": token, "next": "/"})
    return csrf_of(client.get("/incidents/new").text)


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """A client signed in as the operator 'alice'; its CSRF token is in client.csrf."""
    anonymous.csrf = sign_in(anonymous)  # type: ignore[attr-defined]
    return anonymous

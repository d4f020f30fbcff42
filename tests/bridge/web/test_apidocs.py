"""/openapi.json and /docs answer a signed-in person or a token holder, and nobody else."""

from __future__ import annotations

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, bearer
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_without_a_token_or_session_the_api_description_is_refused(
    anonymous: TestClient, path: str
) -> None:
    answer = anonymous.get(path, follow_redirects=False)
    if path == "/docs":
        assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/docs"
    else:
        assert answer.status_code == 401 and "bearer" in answer.json()["error"]


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_a_wrong_token_is_refused(anonymous: TestClient, path: str) -> None:
    answer = anonymous.get(path, headers=bearer("not-a-token"))
    assert answer.status_code == 401 and answer.json()["error"] == "unknown token"


@pytest.mark.parametrize("token", [OPERATOR, INGEST])
def test_a_token_reads_the_description_and_the_docs(anonymous: TestClient, token: str) -> None:
    spec = anonymous.get("/openapi.json", headers=bearer(token))
    assert spec.status_code == 200 and "/api/v2/alerts" in spec.json()["paths"]
    assert "/openapi.json" not in spec.json()["paths"]
    page = anonymous.get("/docs", headers=bearer(token))
    assert page.status_code == 200 and "/openapi.json" in page.text


def test_a_signed_in_browser_reads_both_with_its_session(anonymous: TestClient) -> None:
    sign_in(anonymous)
    assert anonymous.get("/docs").status_code == 200
    assert "/api/v1/incidents" in anonymous.get("/openapi.json").json()["paths"]

"""People's own API tokens: shown once, stored as digests, revocable, with their last use."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.bridge.helpers import bearer
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import csrf_of
from tocsin.bridge.cli import main
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import account_tokens


@pytest.fixture
def ann(runtime: Runtime) -> str:
    """A responder's first token, made by an admin; she makes her others herself."""
    runtime.accounts.add("ann", "Ann Lee", "responder")
    return runtime.accounts.create_token("ann", "bootstrap", "admin")[0]


def test_a_token_is_shown_once_stored_as_a_digest_and_acts_as_its_person(
    client: TestClient, runtime: Runtime, ann: str
) -> None:
    made = client.post("/api/v1/tokens", json={"label": "laptop"}, headers=bearer(ann))
    assert made.status_code == 201
    raw = made.json()["token"]
    with runtime.store.connect() as conn:
        stored = [r.digest for r in conn.execute(select(account_tokens.c.digest))]
    assert raw not in stored and all(len(d) == 64 for d in stored)
    listed = client.get("/api/v1/tokens", headers=bearer(raw)).json()["tokens"]
    assert {t["label"] for t in listed} == {"laptop", "bootstrap"}
    assert "token" not in listed[0]
    laptop = next(t for t in listed if t["label"] == "laptop")
    assert laptop["last_used_at"] is not None and laptop["person"] == "ann"


def test_a_revoked_token_stops_working_at_once(client: TestClient, ann: str) -> None:
    token_id = client.get("/api/v1/tokens", headers=bearer(ann)).json()["tokens"][0]["id"]
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(ann))
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/incidents", headers=bearer(ann)).status_code == 401


def test_only_an_admin_sees_or_makes_another_persons_tokens(
    client: TestClient, runtime: Runtime, ann: str
) -> None:
    others = client.get("/api/v1/tokens?person=primary", headers=bearer(ann))
    assert others.status_code == 403 and others.json()["needed_role"] == "admin"
    runtime.accounts.add("root", None, "admin")
    admin = runtime.accounts.create_token("root", "ops", None)[0]
    made = client.post(
        "/api/v1/tokens", json={"label": "script", "person": "ann"}, headers=bearer(admin)
    )
    assert made.status_code == 201 and made.json()["person"] == "ann"
    assert len(client.get("/api/v1/tokens?person=ann", headers=bearer(admin)).json()["tokens"]) == 2


def test_a_shared_operator_token_has_no_tokens_of_its_own(client: TestClient) -> None:
    refused = client.get("/api/v1/tokens", headers=bearer("operator-secret"))
    assert refused.status_code == 403 and refused.json()["needed_role"] == "admin"


def test_the_account_page_makes_a_token_shows_it_once_and_revokes_it(
    anonymous: TestClient, runtime: Runtime
) -> None:
    runtime.accounts.add("ann", None, "responder")
    runtime.accounts.set_password("ann", "correct horse battery")
    form = anonymous.get("/login").text
    anonymous.post(
        "/login",
        data={"csrf_token": csrf_of(form), "name": "ann", "password": "correct horse battery"},
    )
    page = anonymous.get("/account")
    made = anonymous.post("/account/tokens", data={"csrf_token": csrf_of(page.text), "label": "ci"})
    raw = made.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert raw.startswith("tp_") and raw not in anonymous.get("/account").text
    assert anonymous.get("/api/v1/incidents", headers=bearer(raw)).status_code == 200
    token_id = runtime.accounts.tokens("ann")[0].id
    anonymous.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert anonymous.get("/api/v1/incidents", headers=bearer(raw)).status_code == 401


def test_the_cli_creates_lists_and_revokes_tokens(tmp_path: Path, runtime: Runtime) -> None:
    url = runtime.config.database_url
    config = tmp_path / "bridge.yml"
    config.write_text(f"database_url: {url}\nsecret_key: s\n")
    made = CliRunner().invoke(
        main, ["users", "token", "create", "primary", "--label", "cron", "--config", str(config)]
    )
    assert made.exit_code == 0, made.output
    raw = made.stdout.strip().splitlines()[-1]
    assert runtime.accounts.token_person(raw) == "primary"
    listed = CliRunner().invoke(main, ["users", "token", "list", "--config", str(config)])
    assert "\tprimary\tcron\t" in listed.output and "live" in listed.output
    token_id = listed.output.split("\t", 1)[0]
    revoked = CliRunner().invoke(
        main, ["users", "token", "revoke", token_id, "--config", str(config)]
    )
    assert revoked.exit_code == 0 and runtime.accounts.token_person(raw) is None

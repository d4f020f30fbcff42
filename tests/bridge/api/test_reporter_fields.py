"""The reporter's mail address and language, and public notes, through the API."""

from __future__ import annotations

from tests.bridge.helpers import OPERATOR, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.notify.reporter import CHANNEL as REPORTER_MAIL
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import outbox

REPORT = {"title": "VPN drops", "priority": "P2", "reporter": "Wang Fang", "contact": "x42"}


def report(client: TestClient, **extra: object) -> dict:
    response = client.post("/api/v1/incidents", json=REPORT | extra, headers=bearer(OPERATOR))
    assert response.status_code == 201, response.text
    return response.json()


def test_a_report_keeps_the_reporters_address_and_language(client: TestClient) -> None:
    incident = report(client, email="wang.fang@example.com", language="zh")
    assert (incident["reporter_email"], incident["reporter_language"]) == (
        "wang.fang@example.com",
        "zh-CN",
    )


def test_a_bad_address_is_refused_naming_the_field(client: TestClient) -> None:
    for bad in ("nobody", "a@b\r\nBcc: x@y", "a@b, c@d", "Name <a@b>"):
        response = client.post(
            "/api/v1/incidents", json=REPORT | {"email": bad}, headers=bearer(OPERATOR)
        )
        assert response.status_code in (400, 422), bad
        assert "email" in response.text


def test_an_unknown_language_is_refused_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/api/v1/incidents", json=REPORT | {"language": "fr"}, headers=bearer(OPERATOR)
    )
    assert response.status_code == 422
    assert response.json()["field"] == "language"


def test_notes_are_internal_unless_marked_public(client: TestClient) -> None:
    incident_id = report(client)["id"]
    path = f"/api/v1/incidents/{incident_id}/notes"
    client.post(path, json={"text": "checking the firewall"}, headers=bearer(OPERATOR))
    shown = client.post(path, json={"text": "fixed soon", "public": True}, headers=bearer(OPERATOR))
    notes = [e["data"] for e in shown.json()["timeline"] if e["kind"] == "incident.note_added"]
    assert [(n["text"], n["public"]) for n in notes] == [
        ("checking the firewall", False),
        ("fixed soon", True),
    ]


def test_pages_and_webhooks_never_carry_the_reporters_address(
    client: TestClient, runtime: Runtime
) -> None:
    incident = report(client, email="wang.fang@example.com", assignee="primary")
    with runtime.store.connect() as conn:
        rows = conn.execute(outbox.select()).all()
    pages = [row.payload for row in rows if row.channel != REPORTER_MAIL]
    assert pages, "the assignee was paged"
    assert all("wang.fang" not in repr(payload) for payload in pages)
    assert [row.channel for row in rows].count(REPORTER_MAIL) == 1  # the receipt, to them
    assert incident["reporter_email"] == "wang.fang@example.com"  # staff see it in the API

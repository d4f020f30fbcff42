"""The board registers the reporter's mail and language, and marks notes public or internal."""

from __future__ import annotations

from sqlalchemy import select

from tests.bridge.testclient import TestClient
from tests.bridge.web.test_pages import post
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, incidents


def registered(client: TestClient, **fields: str) -> int:
    response = post(client, "/incidents/new", reporter="Li Lei", contact="+86 10 1234",
                    report_type="phone", priority="P2", description="Mail is slow", **fields)  # fmt: skip
    return int(response.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def test_the_form_keeps_the_reporters_mail_and_language(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = registered(client, reporter_email="li.lei@example.cn", reporter_language="zh-CN")
    with runtime.store.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
    assert (row.reporter_email, row.reporter_language) == ("li.lei@example.cn", "zh-CN")
    page = client.get(f"/incidents/{incident_id}").text
    assert "li.lei@example.cn" in page and 'id="note-public"' in page


def test_a_note_is_public_only_when_ticked(client: TestClient, runtime: Runtime) -> None:
    incident_id = registered(client)
    post(client, f"/incidents/{incident_id}/note", note="internal: check the relay")
    post(client, f"/incidents/{incident_id}/note", note="we are on it", public="1")
    with runtime.store.connect() as conn:
        found = conn.execute(
            select(events.c.data).where(
                events.c.incident_id == incident_id, events.c.kind == "incident.note_added"
            )
        ).scalars()
        notes = [(data["text"], data["public"]) for data in found]
    assert notes == [("internal: check the relay", False), ("we are on it", True)]
    page = client.get(f"/incidents/{incident_id}").text
    assert "mailed to the reporter" in page

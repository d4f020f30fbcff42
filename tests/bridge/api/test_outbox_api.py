from __future__ import annotations

from datetime import timedelta

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.notify import queue
from tocsin.bridge.runtime import Runtime


def dead_letter(runtime: Runtime, reason: str = "audit: http://h/***: HTTP 500") -> int:
    incident_id = runtime.incidents.create(title="t", priority="P1", actor=None)
    now = runtime.clock()
    with runtime.store.begin() as conn:
        queue.enqueue_many(conn, [queue.outbox_row(
            key="k1", event_id=1, incident_id=incident_id, channel="audit", recipient=None,
            payload={"body": {"event": "incident.triggered"}}, now=now)])  # fmt: skip
        (row,) = queue.claim(conn, worker="w", now=now, lease=timedelta(seconds=5), limit=1)
        queue.mark_failed(conn, row, worker="w", error=reason, retry_at=None)
        return row.id


def test_dead_letters_are_listed_with_their_reason(runtime: Runtime, client: TestClient) -> None:
    entry_id = dead_letter(runtime)
    answer = client.get("/api/v1/outbox?status=dead", headers=bearer(OPERATOR)).json()
    assert answer["counts"] == {"pending": 0, "dead": 1}
    (entry,) = answer["entries"]
    assert (entry["id"], entry["event"], entry["last_error"]) == (
        entry_id, "incident.triggered", "audit: http://h/***: HTTP 500",
    )  # fmt: skip
    assert "payload" not in entry


def test_retry_makes_a_dead_letter_pending_again(runtime: Runtime, client: TestClient) -> None:
    entry_id = dead_letter(runtime)
    entry = client.post(f"/api/v1/outbox/{entry_id}/retry", headers=bearer(OPERATOR)).json()
    assert (entry["status"], entry["attempts"]) == ("pending", 0)


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (bearer(INGEST), 403)])
def test_the_outbox_needs_an_operator_token(client: TestClient, headers: dict, status: int) -> None:
    assert client.get("/api/v1/outbox", headers=headers).status_code == status
    assert client.post("/api/v1/outbox/1/retry", headers=headers).status_code == status


def test_retrying_an_unknown_entry_is_404(client: TestClient) -> None:
    assert client.post("/api/v1/outbox/99/retry", headers=bearer(OPERATOR)).status_code == 404

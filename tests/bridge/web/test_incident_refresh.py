"""Which parts of a page refresh themselves: read-only ones, and forms only behind a guard.

A part holding form fields must carry data-keep-while-editing: board.js then leaves it alone
while someone is typing in it.
"""

from __future__ import annotations

from html.parser import HTMLParser

from sqlalchemy import select

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import incidents

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
FIELDS = {"form", "input", "textarea", "select", "button"}


class Refreshing(HTMLParser):
    """Collect the elements carrying data-refresh and form fields inside unguarded ones."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[str, str] = {}
        self.guarded: list[str] = []
        self.fields_inside: list[str] = []
        self.open: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        refreshes = "data-refresh" in found
        if refreshes:
            self.parts[str(found.get("id"))] = str(found["data-refresh"])
            if "data-keep-while-editing" in found:
                self.guarded.append(str(found.get("id")))
                refreshes = False
        if tag in FIELDS and any(inside for _, inside in self.open):
            self.fields_inside.append(tag)
        if tag not in VOID:
            self.open.append((tag, refreshes))

    def handle_endtag(self, tag: str) -> None:
        names = [name for name, _ in self.open]
        if tag in names:
            del self.open[len(names) - 1 - names[::-1].index(tag) :]


def refreshing(html: str) -> Refreshing:
    parser = Refreshing()
    parser.feed(html)
    return parser


def test_incident_page_refreshes_every_part_that_changes(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P1", actor=None)
    page = refreshing(client.get(f"/incidents/{incident_id}").text)
    assert page.parts == {
        "incident-head": "15",
        "incident-summary": "15",
        "incident-timeline": "15",
        "incident-clocks": "15",
        "incident-actions": "15",
    }
    assert page.guarded == ["incident-actions"]


def test_no_form_field_sits_inside_an_unguarded_refreshing_part(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P1", actor=None)
    html = client.get(f"/incidents/{incident_id}").text
    assert 'name="note"' in html
    assert refreshing(html).fields_inside == []


def test_board_still_refreshes_every_20_seconds(client: TestClient) -> None:
    assert refreshing(client.get("/").text).parts == {"board": "20"}


def test_an_alert_incident_page_refreshes_its_alerts_too(
    client: TestClient, runtime: Runtime
) -> None:
    answer = client.post(
        "/api/v2/alerts",
        json=[{"labels": {"alertname": "DiskFull", "instance": "db-1"}}],
        headers=bearer(INGEST),
    )
    assert answer.status_code == 200, answer.text
    with runtime.store.connect() as conn:
        incident_id = conn.execute(select(incidents.c.id)).scalar_one()
    page = refreshing(client.get(f"/incidents/{incident_id}").text)
    assert page.parts["incident-alerts"] == "15"
    assert page.fields_inside == []

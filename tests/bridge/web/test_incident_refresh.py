"""Which parts of a page refresh themselves: the read-only ones, never a form someone types into."""

from __future__ import annotations

from html.parser import HTMLParser

from bridge.runtime import Runtime
from tests.bridge.testclient import TestClient

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
FIELDS = {"form", "input", "textarea", "select", "button"}


class Refreshing(HTMLParser):
    """Collect the elements carrying data-refresh and the form fields found inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[str, str] = {}
        self.fields_inside: list[str] = []
        self.open: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        refreshes = "data-refresh" in found
        if refreshes:
            self.parts[str(found.get("id"))] = str(found["data-refresh"])
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


def test_incident_page_refreshes_header_summary_clocks_and_timeline(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P1", actor=None)
    page = refreshing(client.get(f"/incidents/{incident_id}").text)
    assert page.parts == {
        "incident-head": "15",
        "incident-summary": "15",
        "incident-timeline": "15",
        "incident-clocks": "15",
    }


def test_no_form_field_sits_inside_a_refreshing_part(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P1", actor=None)
    html = client.get(f"/incidents/{incident_id}").text
    assert 'name="note"' in html
    assert refreshing(html).fields_inside == []


def test_board_still_refreshes_every_20_seconds(client: TestClient) -> None:
    assert refreshing(client.get("/").text).parts == {"board": "20"}

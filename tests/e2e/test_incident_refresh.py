"""An open incident page in Debian's Chromium picks up what a colleague did, keeping typed text.

The bridge and the browser come from test_web_board; the browser's clock is faked so the page's
15-second refresh comes at once instead of after a real wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e import test_web_board as board
from tocsin.bridge.incidents.service import IncidentService

pytestmark = pytest.mark.e2e

browser = board.browser
HALF_TYPED = "Checked the primary's disk, WAL archiving looks st"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[board.Bridge]:
    with board.served(tmp_path_factory.mktemp("incident-refresh")) as running:
        yield running


@pytest.fixture
def tab(browser: Any, bridge: board.Bridge) -> Iterator[board.Tab]:
    opened = board.open_tab(browser, bridge, fake_clock=True)
    yield opened
    opened.page.context.close()


def colleague(bridge: board.Bridge, incident_id: int, action: str, **body: str) -> None:
    """Act on the incident through the API, as someone at another desk would."""
    answer = requests.post(
        f"{bridge.url}/api/v1/incidents/{incident_id}/{action}",
        json=body or None,
        headers={"Authorization": f"Bearer {board.OPERATOR}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text


def open_incident(tab: board.Tab, bridge: board.Bridge) -> int:
    incident_id = IncidentService(bridge.store, []).create(
        title="Database primary not accepting connections", priority="P1", actor=None
    )
    tab.page.goto(f"{bridge.url}/incidents/{incident_id}")
    return incident_id


def test_a_colleagues_acknowledgement_and_note_appear_without_reload(
    tab: board.Tab, bridge: board.Bridge
) -> None:
    page = tab.page
    incident_id = open_incident(tab, bridge)
    assert page.inner_text(".incident-head .status") == "Triggered"
    page.evaluate("window.sameDocument = true")
    colleague(bridge, incident_id, "ack")
    colleague(bridge, incident_id, "notes", text="Failing over to the replica now")
    page.clock.fast_forward("00:16")
    page.wait_for_selector(".timeline .note:has-text('Failing over to the replica now')")
    assert page.inner_text(".incident-head .status") == "Acknowledged"
    # Nobody was using the actions: they now offer what an acknowledged incident allows.
    assert page.locator("#ack").count() == 0
    assert page.locator("#resolve-box").count() == 1
    assert page.evaluate("window.sameDocument") is True
    assert tab.errors == [] and tab.failed == []


def test_half_typed_note_survives_a_refresh(tab: board.Tab, bridge: board.Bridge) -> None:
    page = tab.page
    incident_id = open_incident(tab, bridge)
    note = page.locator("textarea[name=note]")
    note.fill(HALF_TYPED)
    page.click("#resolve-box summary")
    page.fill("#root_cause", "WAL filled the disk")
    note.focus()
    colleague(bridge, incident_id, "notes", text="Paged the DBA")
    colleague(bridge, incident_id, "ack")
    page.clock.fast_forward("00:16")
    page.wait_for_selector(".timeline .note:has-text('Paged the DBA')")
    assert note.input_value() == HALF_TYPED
    assert page.input_value("#root_cause") == "WAL filled the disk"
    assert page.evaluate("document.activeElement.name") == "note"
    # The forms in use are left as they were, the colleague's acknowledgement notwithstanding.
    assert page.inner_text(".incident-head .status") == "Acknowledged"
    assert page.locator("#ack").count() == 1


def test_actions_refresh_once_nobody_is_using_them_keeping_open_sections(
    tab: board.Tab, bridge: board.Bridge
) -> None:
    page = tab.page
    incident_id = open_incident(tab, bridge)
    page.click("#resolve-box summary")  # unfolded, nothing typed
    colleague(bridge, incident_id, "ack")
    page.clock.fast_forward("00:16")
    page.wait_for_selector(".incident-head .status:has-text('Acknowledged')")
    page.wait_for_selector("#ack", state="detached")
    assert page.evaluate("document.getElementById('resolve-box').open") is True
    assert tab.errors == [] and tab.failed == []
    assert tab.errors == [] and tab.failed == []

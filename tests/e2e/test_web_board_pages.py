"""The board's pages and its change-only refresh in Debian's Chromium against a real bridge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_web_board import (
    Bridge,
    browser,
    open_tab,
    row_ids,
    served,
)
from tocsin.bridge.incidents.service import IncidentService
from tocsin.bridge.web.board import BOARD_PAGE

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the module's Chromium, shared with the board's scenario tests
EXTRA = 3  # incidents past the first page


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with served(tmp_path_factory.mktemp("web-board-pages")) as running:
        service = IncidentService(running.store, [])
        for number in range(BOARD_PAGE + EXTRA):
            running.ids[f"i{number}"] = service.create(
                title=f"Queue {number} backlog", priority="P2", actor=None
            )
        yield running


def is_board(response: Any, bridge: Bridge) -> bool:
    return response.url.startswith(f"{bridge.url}/") and response.request.resource_type == "fetch"


def test_paging_through_the_board_and_back(browser: Any, bridge: Bridge) -> None:
    tab = open_tab(browser, bridge)
    page = tab.page
    try:
        opened = [bridge.ids[f"i{n}"] for n in range(BOARD_PAGE + EXTRA)]
        assert row_ids(page) == opened[:BOARD_PAGE]
        assert f"{BOARD_PAGE + EXTRA} open" in page.inner_text("h1")
        page.click("a[rel=next]")
        page.wait_for_selector("a[rel=first]")
        assert row_ids(page) == opened[BOARD_PAGE:]
        assert page.locator("a[rel=next]").count() == 0
        page.click("a[rel=first]")
        page.wait_for_selector("a[rel=next]")
        assert row_ids(page) == opened[:BOARD_PAGE]
        assert tab.errors == [] and tab.failed == []
    finally:
        page.context.close()


def test_an_idle_board_refresh_gets_304_and_a_change_arrives(browser: Any, bridge: Bridge) -> None:
    tab = open_tab(browser, bridge, fake_clock=True)
    page = tab.page
    try:
        statuses = []
        # The version also turns every five minutes of the server's clock: allow one turn.
        for _ in range(3):
            with page.expect_response(lambda r: is_board(r, bridge)) as answer:
                page.clock.fast_forward("00:25")
            statuses.append(answer.value.status)
            if statuses[-1] == 304:
                break
        assert statuses[-1] == 304, statuses
        assert len(row_ids(page)) == BOARD_PAGE  # the page kept what it showed
        urgent = IncidentService(bridge.store, []).create(
            title="Database down", priority="P1", actor=None
        )
        with page.expect_response(lambda r: is_board(r, bridge)) as answer:
            page.clock.fast_forward("00:25")
        assert answer.value.status == 200
        page.wait_for_selector(f"tr[data-id='{urgent}']")
        assert row_ids(page)[0] == urgent
        assert tab.errors == [] and tab.failed == []
    finally:
        page.context.close()

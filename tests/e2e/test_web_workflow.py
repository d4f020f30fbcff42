"""The on-call workflow in Debian's Chromium against a real bridge that pages a local webhook.

One intake: a P1 phone report registered on the form reaches the on-call's webhook within
seconds, as a P1 alert does. Then the states people need: pause only after acknowledgement,
reopen, amend a resolution, reassign with a picker.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.bridge.notify.receiver import Receiver
from tests.e2e.test_web_board import (
    Bridge,
    Tab,
    browser,
    open_tab,
    served,
    shot,
)
from tocsin.bridge.notify.links import sign_ack
from tocsin.bridge.platform.clock import utcnow

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the Chromium fixture, shared with the board's scenario

POLICY = """
priorities:
  P1: {{name: emergency, response: 15m, update: 2h, resolution: 2h}}
  P2: {{name: important, response: 30m, update: 2h, resolution: 24h}}
  P3: {{name: general, response: 8h, resolution: 48h}}
routes:
  - {{match: {{severity: critical}}, priority: P1, team: ops, escalation: ops}}
  - {{priority: P3, team: ops, escalation: ops}}
channels:
  oncall-hook: {{type: webhook, url: "{hook}"}}
  bob-hook: {{type: webhook, url: "{bob}"}}
people:
  oncall: {{name: On-call engineer, channels: [oncall-hook]}}
  bob: {{name: Bob Chen, channels: [bob-hook]}}
teams:
  ops: {{members: [oncall]}}
  dba: {{members: [bob]}}
escalation_policies:
  ops:
    steps:
      - {{after: 0m, notify: [team:ops]}}
"""


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Bridge]:
    policy = POLICY.format(hook=receiver.url("/oncall"), bob=receiver.url("/bob"))
    with served(tmp_path_factory.mktemp("web-workflow"), policy) as running:
        yield running


@pytest.fixture(scope="module")
def tab(browser: Any, bridge: Bridge) -> Iterator[Tab]:
    opened = open_tab(browser, bridge)
    yield opened
    opened.page.context.close()


def wait_for_post(receiver: Receiver, path: str, incident_id: int, seconds: float = 10) -> Any:
    """Return the first webhook body for an incident on `path`, waiting up to `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for item in list(receiver.received):
            if item.path == path and item.json["incident"]["id"] == incident_id:
                return item.json
        time.sleep(0.05)
    seen = [(r.path, r.json.get("event")) for r in receiver.received]
    raise AssertionError(f"no POST to {path} for incident {incident_id} in {seconds}s: {seen}")


def register(page: Any, bridge: Bridge, priority: str, **fields: str) -> int:
    page.goto(f"{bridge.url}/incidents/new")
    page.fill("#reporter", "Wang Fang")
    page.fill("#contact", "+86 10 5555 0101")
    page.select_option("#report_type", "phone")
    page.select_option("#priority", priority)
    for name, value in fields.items():  # title, service, host: text; team, assignee: pickers
        if name in ("team", "assignee"):
            page.select_option(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)
    page.fill("#description", "Nobody can pay at the tills on floor 2")
    page.click("#register")
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    return int(page.url.rsplit("/", 1)[1].split("?")[0])


def test_a_p1_reported_on_the_form_pages_the_on_call_within_seconds(
    tab: Tab, bridge: Bridge, receiver: Receiver
) -> None:
    started = time.monotonic()
    incident_id = register(tab.page, bridge, "P1", service="tills", host="pos-7")
    body = wait_for_post(receiver, "/oncall", incident_id)
    assert body["incident"]["priority"] == "P1"
    assert body["incident"]["escalation_policy"] == "ops"
    print(f"paged {time.monotonic() - started:.2f}s after the click")


def test_an_assignee_chosen_with_the_picker_is_paged(
    tab: Tab, bridge: Bridge, receiver: Receiver
) -> None:
    incident_id = register(tab.page, bridge, "P2", assignee="bob")
    wait_for_post(receiver, "/bob", incident_id)


def test_pause_waits_for_the_acknowledgement(tab: Tab, bridge: Bridge) -> None:
    page = tab.page
    incident_id = register(page, bridge, "P2")
    assert page.locator("#pause-box").count() == 0
    assert page.locator("#pause-hint").is_visible()
    page.click("#ack")
    page.wait_for_selector(".flash.ok")
    page.click("#pause-box summary")
    page.fill("#pause-reason", "waiting on the reporter")
    page.click("#pause")
    page.wait_for_selector(".flash.ok")
    assert "Paused" in page.inner_text(".incident-head .meta")
    assert page.url.endswith(f"/incidents/{incident_id}?done=pause")


def test_reassign_with_the_picker_pages_the_new_assignee(
    tab: Tab, bridge: Bridge, receiver: Receiver
) -> None:
    page = tab.page
    incident_id = register(page, bridge, "P3")
    page.click("#reassign-box summary")
    page.select_option("#reassign-to", "dba")
    page.click("#reassign")
    page.wait_for_selector(".flash.ok")
    assert wait_for_post(receiver, "/bob", incident_id)["event"] == "incident.reassigned"


def test_reopen_and_amend_a_resolved_incident(tab: Tab, bridge: Bridge) -> None:
    page = tab.page
    incident_id = register(page, bridge, "P2")
    page.click("#resolve-box summary")
    page.fill("#root_cause", "Till network switch lost power")
    page.fill("#solution", "Moved it to the UPS")
    page.click("#resolve")
    page.wait_for_selector("#reopen-box")
    page.click("#amend-box summary")
    page.fill("#amend-root-cause", "Till switch on a non-UPS socket")
    page.click("#amend")
    page.wait_for_selector(".flash.ok")
    assert "non-UPS socket" in page.inner_text(".resolution")
    page.click("#reopen-box summary")
    page.click("#reopen")
    page.wait_for_selector(".flash.ok")
    assert page.inner_text(".incident-head .status") == "Triggered"  # never acknowledged
    assert page.locator("#resolve-box").count() == 1
    shot(page, "incident-reopened.png")
    assert page.url.endswith(f"/incidents/{incident_id}?done=reopen")


def test_nothing_failed_in_the_workflow(tab: Tab) -> None:
    assert (tab.dialogs, tab.errors) == ([], [])


PHONE = {"width": 390, "height": 844}
LONG_TITLE = "Payment terminal on floor 2 rejects every card with error 0x5A3F " * 3


def overflow(page: Any) -> dict[str, int]:
    return dict(
        page.evaluate(
            "() => ({page: document.documentElement.scrollWidth, view: window.innerWidth})"
        )
    )


def top(page: Any, selector: str) -> float:
    return float(page.eval_on_selector(selector, "el => el.getBoundingClientRect().top"))


@pytest.fixture(scope="module")
def phone(browser: Any, bridge: Bridge) -> Iterator[Tab]:
    opened = open_tab(browser, bridge, **PHONE)
    yield opened
    opened.page.context.close()


@pytest.fixture(scope="module")
def paused(tab: Tab, bridge: Bridge) -> int:
    """A P1 with a long title, acknowledged and paused: the widest clocks there are."""
    page = tab.page
    incident_id = register(page, bridge, "P1", title=LONG_TITLE.strip(), host="pos-terminal-017")
    page.click("#ack")
    page.wait_for_selector(".flash.ok")
    page.click("#pause-box summary")
    page.fill("#pause-reason", "waiting on the reporter")
    page.click("#pause")
    page.wait_for_selector(".flash.ok")
    return incident_id


def test_the_board_is_cards_on_a_phone(phone: Tab, bridge: Bridge, paused: int) -> None:
    page = phone.page
    page.goto(f"{bridge.url}/")
    card = page.locator(f"tr.incident-row[data-id='{paused}']")
    assert card.evaluate("el => getComputedStyle(el).display") == "grid"
    for part in (".prio", "td.title", "td.c-host", ".countdown"):
        assert card.locator(part).is_visible(), part
    assert not card.locator("td.c-team").is_visible()
    shot(page, "board-390.png")
    found = overflow(page)
    assert found["page"] <= found["view"], found


def test_the_incident_page_shows_clocks_and_acknowledge_first_on_a_phone(
    phone: Tab, bridge: Bridge
) -> None:
    page = phone.page
    incident_id = register(page, bridge, "P1", title=LONG_TITLE.strip(), host="pos-terminal-018")
    assert top(page, "#incident-clocks") < top(page, "#incident-summary")
    assert top(page, "#ack") < top(page, "#incident-timeline")
    assert top(page, "#ack") < 844 * 1.5  # within a thumb's scroll of the top
    shot(page, "incident-390.png")
    found = overflow(page)
    assert found["page"] <= found["view"], found
    assert page.url.endswith(f"/incidents/{incident_id}")


@pytest.mark.parametrize("width", [390, 1440])
def test_clocks_of_a_paused_incident_fit_their_card(
    browser: Any, bridge: Bridge, paused: int, width: int
) -> None:
    viewer = open_tab(browser, bridge, width=width, height=844)
    try:
        page = viewer.page
        page.goto(f"{bridge.url}/incidents/{paused}")
        fits = page.eval_on_selector(
            "#incident-clocks", "card => card.scrollWidth <= card.clientWidth"
        )
        shot(page, f"incident-paused-{width}.png")
        assert fits
        found = overflow(page)
        assert found["page"] <= found["view"], found
    finally:
        viewer.page.context.close()


@pytest.mark.parametrize("path", ["/incidents", "/kb?q=card", "/incidents/new", "/reports"])
def test_other_pages_fit_a_phone(phone: Tab, bridge: Bridge, paused: int, path: str) -> None:
    phone.page.goto(f"{bridge.url}{path}")
    found = overflow(phone.page)
    assert found["page"] <= found["view"], (path, found)


def test_times_are_in_the_viewers_zone_with_seconds_on_hover(
    browser: Any, bridge: Bridge, paused: int
) -> None:
    viewer = open_tab(browser, bridge, timezone="Asia/Shanghai")
    try:
        page = viewer.page
        page.goto(f"{bridge.url}/incidents/{paused}")
        stamp = page.locator("#incident-timeline time.local").first
        instant = datetime.fromisoformat(str(stamp.get_attribute("datetime")))
        local = instant.astimezone(ZoneInfo("Asia/Shanghai"))
        assert stamp.inner_text() == f"{local:%Y-%m-%d %H:%M}"
        assert stamp.get_attribute("title") == f"{local:%Y-%m-%d %H:%M:%S} Asia/Shanghai"
    finally:
        viewer.page.context.close()


def test_a_reused_ack_link_is_styled_and_says_who_acknowledged(
    browser: Any, bridge: Bridge, tab: Tab
) -> None:
    incident_id = register(tab.page, bridge, "P2")
    token = sign_ack(
        "e2e-secret-key-for-sessions", incident_id=incident_id, person="bob", now=utcnow()
    )
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{bridge.url}/ack/{token}")
        assert page.eval_on_selector(".card", "el => getComputedStyle(el).borderRadius") == "8px"
        page.click("#ack")
        page.wait_for_selector(".ack-done")
        page.goto(f"{bridge.url}/ack/{token}")
        assert "bob 已于" in page.inner_text(".ack-by")
        shot(page, "ack-reused-zh-CN.png")
        page.click("a.incident-link")
        page.wait_for_url(re.compile(rf"/incidents/{incident_id}$|/login"))
    finally:
        context.close()

"""The web board in Debian's Chromium against a real bridge process on 127.0.0.1.

Scenario tests, in order: sign in, the board in priority order with coloured countdowns, an
alert carrying script that stays text, acknowledge and resolve by clicking, a phone report,
the Chinese board. Screenshots go to test-artifacts/screenshots/ (printed) for a person to see.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import delete, insert, select

from tests.peers import require_binary
from tocsin.bridge.incidents.service import IncidentService
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import alerts, incidents, sla_clocks

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
OPERATOR = "e2e-operator-token"
INGEST = "e2e-ingest-token"
HOSTILE = '<script>window.pwned=1;alert(1)</script><img src=x onerror="window.pwned=2;alert(2)">'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
POLICY = """
calendars:
  always: {timezone: UTC, days: [mon, tue, wed, thu, fri, sat, sun], hours: ["00:00-24:00"]}
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
  P2: {name: important, response: 30m, update: 2h, resolution: 24h}
  P3: {name: general, response: 8h, resolution: 48h}
routes:
  - {match: {severity: critical}, priority: P1, team: ops, group_by: [alertname, instance]}
  - {priority: P3}
people:
  oncall: {name: On-call engineer}
teams:
  ops: {members: [oncall]}
"""


@dataclass
class Bridge:
    url: str
    store: Store
    ids: dict[str, int] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_bridge(
    tmp: Path, policy: str = POLICY, extra: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    """Run `tocsin-bridge serve` on a free port (`extra`: more config) and wait for /readyz."""
    port = free_port()
    (tmp / "policy.yml").write_text(policy)
    (tmp / "bridge.yml").write_text(
        f"listen: 127.0.0.1:{port}\n"
        f"database_url: sqlite:///{tmp / 'tocsin.db'}\n"
        f"policy: {tmp / 'policy.yml'}\n"
        "secret_key: e2e-secret-key-for-sessions\n"
        "log_level: warning\n"
        "tokens:\n"
        f"  - {{name: alice, role: operator, value: {OPERATOR}}}\n"
        f"  - {{name: sender, role: ingest, value: {INGEST}}}\n" + extra
    )
    command = [sys.executable, "-c", "from tocsin.bridge.cli import main; main()", "serve"]
    with (tmp / "bridge.log").open("ab") as log:
        process = subprocess.Popen(
            [*command, "--config", str(tmp / "bridge.yml")],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/readyz", timeout=1).ok:
                return process, url
        except requests.RequestException:
            # Bound but still migrating: the socket accepts before uvicorn answers.
            time.sleep(0.1)
    stop(process)
    raise AssertionError(f"bridge did not start: {(tmp / 'bridge.log').read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def set_clock(conn: Any, incident_id: int, minutes_left: float, warned: bool = False) -> None:
    """Give an incident one response clock due in `minutes_left`, warned or not."""
    now = utcnow()
    due = now + timedelta(minutes=minutes_left)
    conn.execute(delete(sla_clocks).where(sla_clocks.c.incident_id == incident_id))
    conn.execute(
        insert(sla_clocks).values(
            incident_id=incident_id,
            clock="response",
            target_seconds=900,
            started_at=now - timedelta(minutes=5),
            due_at=due,
            warn_at=now - timedelta(minutes=1) if warned else due - timedelta(minutes=2),
            breached_at=now if minutes_left < 0 else None,
        )
    )


def seed(bridge: Bridge) -> None:
    """An alert through the real ingest API, manual incidents, and clocks in every state."""
    alert = {
        "labels": {"alertname": "DiskFull", "instance": "web-1", "severity": "critical"},
        "annotations": {"summary": HOSTILE, "runbook_url": "https://runbooks.example.com/disk"},
        "startsAt": (utcnow() - timedelta(minutes=3)).isoformat(),
    }
    answer = requests.post(
        f"{bridge.url}/api/v2/alerts",
        json=[alert],
        headers={"Authorization": f"Bearer {INGEST}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    service = IncidentService(bridge.store, [])
    manual = {
        "db": ("Database primary not accepting connections", "P1", "db-1", "dba", None),
        "api": ("API p99 latency above 2s", "P2", "api-3", "web", "bob"),
        "queue": ("Payment queue backlog growing", "P2", "mq-2", "payments", None),
        "vpn": ("Finance cannot reach the VPN", "P3", None, "helpdesk", None),
    }
    for name, (title, priority, host, team, assignee) in manual.items():
        bridge.ids[name] = service.create(
            title=title, priority=priority, actor=None, host=host, team=team, assignee=assignee
        )
    with bridge.store.begin() as conn:
        bridge.ids["disk"] = int(
            conn.execute(select(alerts.c.incident_id).where(alerts.c.labels.is_not(None))).scalar()
        )
        set_clock(conn, bridge.ids["db"], 4, warned=True)
        set_clock(conn, bridge.ids["disk"], 12)
        set_clock(conn, bridge.ids["api"], -3)
        set_clock(conn, bridge.ids["queue"], 25)
        set_clock(conn, bridge.ids["vpn"], 7 * 60)


@contextmanager
def served(tmp: Path, policy: str = POLICY) -> Iterator[Bridge]:
    """Run a bridge (start_bridge) with a store on its database; stop both afterwards."""
    process, url = start_bridge(tmp, policy)
    store = Store(f"sqlite:///{tmp / 'tocsin.db'}")
    try:
        yield Bridge(url, store)
    finally:
        store.dispose()
        stop(process)


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with served(tmp_path_factory.mktemp("web-board")) as running:
        seed(running)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_binary("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    """A signed-in page and everything suspicious it saw: dialogs, page errors, console errors."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def open_tab(
    browser: Any,
    bridge: Bridge,
    locale: str = "en-US",
    fake_clock: bool = False,
    width: int = 1440,
    height: int = 900,
    timezone: str | None = None,
) -> Tab:
    context = browser.new_context(
        locale=locale, viewport={"width": width, "height": height}, timezone_id=timezone
    )
    page = context.new_page()
    if fake_clock:
        page.clock.install()
    page.set_default_timeout(10_000)
    tab = Tab(page)
    page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    page.on(
        "response",
        lambda response: tab.failed.append(response.url) if response.status >= 400 else None,
    )
    page.goto(f"{bridge.url}/")
    page.fill("#token", OPERATOR)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#board")
    return tab


@pytest.fixture(scope="module")
def tab(browser: Any, bridge: Bridge) -> Iterator[Tab]:
    opened = open_tab(browser, bridge)
    yield opened
    opened.page.context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def hold_refreshes(page: Any) -> None:
    """Answer the page's refresh fetches with no content: only the browser's clock moves time."""
    page.route(
        "**/*",
        lambda route: (
            route.fulfill(status=204)
            if route.request.resource_type == "fetch"
            else route.continue_()
        ),
    )


def row_ids(page: Any) -> list[int]:
    return [
        int(value)
        for value in page.eval_on_selector_all(
            "tr.incident-row", "rows => rows.map(r => r.dataset.id)"
        )
    ]


def test_board_lists_open_incidents_by_priority_then_time_left(tab: Tab, bridge: Bridge) -> None:
    ids = bridge.ids
    assert row_ids(tab.page) == [ids["db"], ids["disk"], ids["api"], ids["queue"], ids["vpn"]]
    shot(tab.page, "board.png")


def test_countdowns_are_amber_at_warning_and_red_at_breach(tab: Tab, bridge: Bridge) -> None:
    def state(name: str) -> str:
        return str(tab.page.get_attribute(f"tr[data-id='{bridge.ids[name]}'] .countdown", "class"))

    assert "state-warning" in state("db")
    assert "state-breached" in state("api")
    assert "state-ok" in state("queue")


def test_board_filters_by_team(tab: Tab, bridge: Bridge) -> None:
    tab.page.select_option("select[name=team]", "payments")
    tab.page.click(".filters button[type=submit]")
    tab.page.wait_for_url("**team=payments**")
    assert row_ids(tab.page) == [bridge.ids["queue"]]
    tab.page.click(".filters .clear")
    tab.page.wait_for_selector(f"tr[data-id='{bridge.ids['vpn']}']")


def test_alert_with_script_renders_as_text_and_runs_nothing(tab: Tab, bridge: Bridge) -> None:
    page = tab.page
    page.goto(f"{bridge.url}/")
    page.click(f"tr[data-id='{bridge.ids['disk']}'] td.title a")
    page.wait_for_selector(".alert-summary")
    assert HOSTILE in page.inner_text(".alert-summary")
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0
    assert page.get_attribute("a.runbook", "href") == "https://runbooks.example.com/disk"
    shot(page, "incident.png")
    assert tab.dialogs == []


def test_acknowledge_with_a_click(tab: Tab, bridge: Bridge) -> None:
    page = tab.page
    page.goto(f"{bridge.url}/incidents/{bridge.ids['db']}")
    page.click("#ack")
    page.wait_for_selector(".flash.ok")
    assert page.inner_text(".incident-head .status") == "Acknowledged"
    assert "alice" in page.inner_text(".timeline")


def test_resolve_with_root_cause_and_solution(tab: Tab, bridge: Bridge) -> None:
    page = tab.page
    page.goto(f"{bridge.url}/incidents/{bridge.ids['db']}")
    page.click("#resolve-box summary")
    page.fill("#root_cause", "Disk of the primary filled with WAL")
    page.fill("#solution", "Archived WAL, raised the alert threshold")
    page.click("#resolve")
    page.wait_for_selector(".flash.ok")
    assert page.inner_text(".incident-head .status") == "Resolved"
    shot(page, "incident-resolved.png")
    page.goto(f"{bridge.url}/")
    assert bridge.ids["db"] not in row_ids(page)


def test_service_desk_registers_a_phone_report(tab: Tab, bridge: Bridge) -> None:
    page = tab.page
    page.goto(f"{bridge.url}/incidents/new")
    page.fill("#reporter", "Wang Fang")
    page.fill("#contact", "+86 10 5555 0101")
    page.select_option("#report_type", "phone")
    page.select_option("#priority", "P2")
    page.fill("#description", "Printer on the 3rd floor shows paper jam after every page")
    shot(page, "new-incident.png")
    page.click("#register")
    page.wait_for_url("**/incidents/*")
    assert "Wang Fang" in page.inner_text("main")
    with bridge.store.connect() as conn:
        row = conn.execute(select(incidents).order_by(incidents.c.id.desc())).first()
    assert row is not None and (row.reporter, row.report_type, row.priority) == (
        "Wang Fang",
        "phone",
        "P2",
    )


def test_chinese_board_renders(browser: Any, bridge: Bridge) -> None:
    chinese = open_tab(browser, bridge, locale="zh-CN")
    try:
        assert chinese.page.get_attribute("html", "lang") == "zh-CN"
        assert "未关闭事件" in chinese.page.inner_text("h1")
        shot(chinese.page, "board-zh-CN.png")
    finally:
        chinese.page.context.close()


def test_wide_report_tables_scroll_sideways_on_a_phone(browser: Any, bridge: Bridge) -> None:
    phone = open_tab(browser, bridge, width=390)
    try:
        page = phone.page
        page.goto(f"{bridge.url}/reports")
        page.wait_for_selector("table.report")
        found = page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                view: window.innerWidth,
                tables: [...document.querySelectorAll('table.report')].map(table => {
                    const wrap = table.parentElement;
                    const scrolls = getComputedStyle(wrap).overflowX === "auto";
                    return [table.className, scrolls || wrap.scrollWidth <= wrap.clientWidth];
                }),
                wide: [...document.querySelectorAll('.table-scroll')].filter(
                    wrap => wrap.scrollWidth > wrap.clientWidth
                ).length,
            })"""
        )
        shot(page, "reports-390.png")
        assert found["page"] <= found["view"]
        # Each report table scrolls inside its card or fits it; the wide ones do scroll.
        assert all(fits for _, fits in found["tables"]), found["tables"]
        assert found["wide"] >= 2  # by priority, by team
    finally:
        phone.page.context.close()


def test_countdown_turns_amber_then_red_as_time_passes(browser: Any, bridge: Bridge) -> None:
    timed = open_tab(browser, bridge, fake_clock=True)
    try:
        page = timed.page
        hold_refreshes(page)
        page.goto(f"{bridge.url}/incidents/{bridge.ids['queue']}")
        countdown = ".clocks .countdown"
        assert "state-ok" in str(page.get_attribute(countdown, "class"))
        page.clock.fast_forward("23:30")  # past the warning, 2 minutes before due
        page.wait_for_selector(f"{countdown}.state-warning")
        page.clock.fast_forward("02:00")
        page.wait_for_selector(f"{countdown}.state-breached")
        assert "overdue" in page.inner_text(countdown)
    finally:
        timed.page.context.close()


def test_business_countdown_stops_where_the_working_hours_end(browser: Any, bridge: Bridge) -> None:
    # A calendar working all day long: each UTC day is one span, so its countdown stops at midnight.
    fresh = IncidentService(bridge.store, []).create(
        title="Badge reader", priority="P3", actor=None
    )
    with bridge.store.begin() as conn:
        set_clock(conn, fresh, 48 * 60)
        conn.execute(
            sla_clocks.update().values(calendar="always").where(sla_clocks.c.incident_id == fresh)
        )
    timed = open_tab(browser, bridge, fake_clock=True)
    try:
        page = timed.page
        hold_refreshes(page)
        page.goto(f"{bridge.url}/incidents/{fresh}")
        countdown = page.locator(".clocks .countdown.business")
        assert "business hours" in countdown.inner_text()
        left, at, until = (
            countdown.get_attribute(name) for name in ("data-left", "data-at", "data-until")
        )
        counted = datetime.fromisoformat(str(until)) - datetime.fromisoformat(str(at))
        total = int(float(str(left)) - counted.total_seconds())
        frozen = f"{total // 3600}h {total % 3600 // 60:02d}m"
        page.clock.fast_forward(int(counted.total_seconds() * 1000) + 3_600_000)
        page.wait_for_selector(".clocks .countdown.business .off-hours")
        assert countdown.locator(".left").inner_text() == frozen
        page.clock.fast_forward("02:00:00")
        assert countdown.locator(".left").inner_text() == frozen
        shot(page, "incident-business-clock.png")
        assert timed.errors == []
    finally:
        timed.page.context.close()


def test_board_refreshes_by_itself(browser: Any, bridge: Bridge) -> None:
    timed = open_tab(browser, bridge, fake_clock=True)
    try:
        service = IncidentService(bridge.store, [])
        fresh = service.create(title="Certificate expires in 3 days", priority="P3", actor=None)
        timed.page.clock.fast_forward("00:25")
        timed.page.wait_for_selector(f"tr[data-id='{fresh}']")
    finally:
        timed.page.context.close()


def test_nothing_ran_or_failed_in_the_browser(tab: Tab) -> None:
    assert tab.dialogs == []
    assert tab.failed == []
    assert tab.errors == []


def test_screenshots_folder_is_printed() -> None:
    print(f"screenshots in {SHOTS} ({os.listdir(SHOTS) if SHOTS.exists() else 'none'})")
    assert (SHOTS / "board.png").exists()

"""Maintenance windows on the board, in Debian's Chromium, in English and in Chinese.

A window opened on the page holds back a matching alert (shown as "in maintenance", no
incident); ending it on the page opens the incident of the alert that still fires. A weekly
window saved on the page is listed with its days and source, holds an alert and is ended there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from tests.e2e.test_web_board import INGEST, Bridge, Tab, browser, open_tab, served
from tocsin.bridge.platform.clock import utcnow

pytestmark = pytest.mark.e2e
__all__ = ["browser"]


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with served(tmp_path_factory.mktemp("web-maintenance")) as running:
        yield running


def send(bridge: Bridge, instance: str) -> dict[str, Any]:
    now = utcnow()
    body = [
        {
            "labels": {"alertname": "DiskFull", "instance": instance, "severity": "critical"},
            "annotations": {"summary": f"disk full on {instance}"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
        }
    ]
    response = requests.post(
        f"{bridge.url}/api/v2/alerts",
        json=body,
        headers={"Authorization": f"Bearer {INGEST}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture(scope="module")
def english(browser: Any, bridge: Bridge) -> Iterator[Tab]:
    opened = open_tab(browser, bridge)
    yield opened
    opened.page.context.close()


def test_a_window_opened_on_the_page_holds_an_alert_and_ending_it_opens_the_incident(
    english: Tab, bridge: Bridge
) -> None:
    page = english.page
    page.goto(f"{bridge.url}/maintenance")
    page.fill("#mw-matchers", "instance=db-web-1")
    page.fill("#mw-duration", "45m")
    page.fill("#mw-reason", "kernel update")
    page.click("#mw-open")
    page.wait_for_selector("#mw-done")
    assert "Window opened." in page.inner_text("#mw-done")
    assert send(bridge, "db-web-1")["not_stored"] == [{"index": 0, "outcome": "maintenance"}]
    page.reload()
    window = page.locator(".mw-window").first
    assert "instance=db-web-1" in window.inner_text()
    assert "in maintenance" in window.inner_text() and "DiskFull" in window.inner_text()
    window.locator("button.danger").click()
    page.wait_for_selector("#mw-done")
    assert "opened an incident" in page.locator(".mw-window").first.inner_text()
    page.locator(".mw-window a[href^='/incidents/']").first.click()
    page.wait_for_url("**/incidents/*")
    assert "disk full on db-web-1" in page.inner_text("body") or "DiskFull" in page.inner_text(
        "body"
    )
    assert not english.errors


def test_bad_matchers_are_refused_in_the_readers_language(browser: Any, bridge: Bridge) -> None:
    chinese = open_tab(browser, bridge, locale="zh-CN")
    try:
        page = chinese.page
        page.goto(f"{bridge.url}/maintenance")
        assert page.get_attribute("html", "lang") == "zh-CN"
        assert "维护窗口" in page.inner_text("h1")
        page.fill("#mw-matchers", "instance")
        page.fill("#mw-duration", "30m")
        page.fill("#mw-reason", "换盘")
        page.click("#mw-open")
        page.wait_for_selector("#mw-error")
        assert page.inner_text("#mw-error") == "请填写匹配条件，例如 instance=db1，每行一个。"
        assert page.input_value("#mw-reason") == "换盘"
    finally:
        chinese.page.context.close()


def test_a_weekly_window_saved_on_the_page_holds_an_alert_and_is_ended_there(
    english: Tab, bridge: Bridge
) -> None:
    page = english.page
    page.goto(f"{bridge.url}/maintenance")
    page.fill("#mw-w-matchers", "instance=db-weekly-1")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        page.check(f"#mw-w-day-{day}")
    page.fill("#mw-w-start", (utcnow() - timedelta(hours=1)).strftime("%H:%M"))
    page.fill("#mw-w-duration", "3h")
    page.fill("#mw-w-timezone", "UTC")
    last = (utcnow() + timedelta(days=60)).date().isoformat()
    page.fill("#mw-w-until", last)
    page.fill("#mw-w-reason", "weekly patching")
    page.click("#mw-w-open")
    page.wait_for_selector("#mw-done")
    assert "Weekly window saved." in page.inner_text("#mw-done")
    assert send(bridge, "db-weekly-1")["not_stored"] == [{"index": 0, "outcome": "maintenance"}]
    page.reload()
    row = page.locator("li.mw-weekly", has_text="instance=db-weekly-1")
    text = row.inner_text()
    assert "Every Mon, Tue, Wed, Thu, Fri, Sat, Sun" in text and "Set in: board" in text, text
    assert "active" in text and "Held back: 1" in text, text
    assert f"Last date {last}" in text, text
    row.locator("button.danger").click()
    page.wait_for_selector("#mw-done")
    assert "Window ended." in page.inner_text("#mw-done")
    assert page.locator("li.mw-weekly", has_text="instance=db-weekly-1").count() == 0
    assert not english.errors


def test_a_bad_weekly_zone_or_date_is_refused_in_chinese(browser: Any, bridge: Bridge) -> None:
    chinese = open_tab(browser, bridge, locale="zh-CN")
    try:
        page = chinese.page
        page.goto(f"{bridge.url}/maintenance")
        page.fill("#mw-w-matchers", "team=db")
        page.fill("#mw-w-timezone", "Mars/Base")
        page.fill("#mw-w-reason", "每周补丁")
        page.click("#mw-w-open")
        page.wait_for_selector("#mw-error")
        assert page.inner_text("#mw-error") == "请填写 IANA 时区，例如 Asia/Shanghai。"
        assert page.input_value("#mw-w-reason") == "每周补丁"
        assert page.is_checked("#mw-w-day-sun")
        assert "每周窗口" in page.inner_text("body")
        assert "周日" in page.inner_text("#mw-weekly-form")
        page.fill("#mw-w-timezone", "Asia/Shanghai")
        page.fill("#mw-w-until", "2020-01-01")
        page.click("#mw-w-open")
        page.wait_for_selector("#mw-error:has-text('请填写日期')")
        assert page.input_value("#mw-w-until") == "2020-01-01"
    finally:
        chinese.page.context.close()

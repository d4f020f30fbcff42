"""People sign in as themselves in Debian's Chromium: with a password, and through a real OIDC provider.

A real bridge process (`tocsin-bridge serve`) and a real OpenID Connect provider process
(oidc-provider-mock) on 127.0.0.1. Each person acknowledges an incident, then finds their own
name in its timeline and in the SLA report's per-person table.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.test_web_board import (
    INGEST,
    OPERATOR,
    ROOT,
    browser,
    shot,
    start_bridge,
    stop,
)
from tests.oidc import oidc_provider

pytestmark = pytest.mark.e2e
__all__ = ["browser"]

PASSWORD = "a long and secret phrase"
LEE = {"sub": "u-lee", "preferred_username": "lee", "groups": ["oncall-leads"]}
POLICY = """
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
  P3: {name: general, response: 8h, resolution: 48h}
routes:
  - {match: {severity: critical}, priority: P1, team: ops}
  - {priority: P3}
people:
  ann: {name: Ann Example, role: manager}
  lee: {name: Lee Sample}
teams:
  ops: {members: [ann, lee]}
"""


@dataclass
class Site:
    url: str
    config: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("people")
    with oidc_provider(tmp, LEE) as provider:
        sso = (
            "sso:\n"
            f"  issuer: {provider.issuer}\n"
            "  client_id: tocsin-e2e\n"
            "  client_secret: e2e-client-secret\n"
            "  role_claim: groups\n"
            "  roles: {oncall-leads: manager}\n"
        )
        process, url = start_bridge(tmp, POLICY, extra=sso)
        try:
            config = tmp / "bridge.yml"
            command = [sys.executable, "-c", "from tocsin.bridge.cli import main; main()"]
            subprocess.run(
                [
                    *command,
                    "users",
                    "set-password",
                    "ann",
                    "--password-stdin",
                    "--config",
                    str(config),
                ],
                input=f"{PASSWORD}\n".encode(),
                cwd=ROOT,
                check=True,
                timeout=120,
            )
            yield Site(url, config)
        finally:
            stop(process)


def open_incident(site: Site, title: str) -> int:
    body = {"title": title, "priority": "P1", "team": "ops"}
    answer = requests.post(
        f"{site.url}/api/v1/incidents",
        json=body,
        headers={"Authorization": f"Bearer {OPERATOR}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def acknowledge_and_find_myself(page: Any, site: Site, incident_id: int, full_name: str) -> None:
    page.goto(f"{site.url}/incidents/{incident_id}")
    page.click("#ack")
    page.wait_for_selector(".flash.ok")
    assert full_name in page.inner_text(".timeline")
    page.goto(f"{site.url}/reports")
    table = page.inner_text("#by-person")
    assert full_name in table


def test_a_person_signs_in_with_a_password_acts_and_sees_their_name(
    browser: Any, site: Site
) -> None:
    incident_id = open_incident(site, "Ann's database is down")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{site.url}/")
    page.fill("#name", "ann")
    page.fill("#password", PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#board")
    assert "Signed in as ann" in page.inner_text(".account")
    acknowledge_and_find_myself(page, site, incident_id, "Ann Example")
    shot(page, "report-by-person.png")
    context.close()


def test_a_person_signs_in_through_the_oidc_provider_acts_and_sees_their_name(
    browser: Any, site: Site
) -> None:
    incident_id = open_incident(site, "Lee's queue is stuck")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{site.url}/")
    page.click("#sso")
    page.click(f"button[name=sub][value={LEE['sub']}]")  # the provider's own page
    page.wait_for_selector("#board")
    acknowledge_and_find_myself(page, site, incident_id, "Lee Sample")
    page.goto(f"{site.url}/account")
    assert "单点登录" in page.inner_text("#sessions")
    context.close()


def test_a_wrong_password_in_the_browser_says_so_and_signs_nobody_in(
    browser: Any, site: Site
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{site.url}/login")
    page.fill("#name", "ann")
    page.fill("#password", "not the password")
    page.click("#password-form button[type=submit]")
    assert "Wrong name or password" in page.inner_text(".flash.error")
    context.close()


def test_the_ingest_token_still_sends_alerts(site: Site) -> None:
    alert = [{"labels": {"alertname": "Probe", "severity": "critical", "instance": "h1"}}]
    answer = requests.post(
        f"{site.url}/api/v2/alerts",
        json=alert,
        headers={"Authorization": f"Bearer {INGEST}"},
        timeout=10,
    )
    assert answer.status_code == 200

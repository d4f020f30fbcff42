"""The reporter's survey page in Debian's Chromium, in English and in Chinese, without signing in.

The link is signed as the follow-up mail signs it (tests/bridge/web/test_survey.py follows the
mailed link itself); here a person clicks a rating, writes a comment and sends it, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from tests.e2e.test_web_board import OPERATOR, Bridge, browser, served
from tocsin.bridge.notify.links import SURVEY, sign_ack
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.schema import incidents

pytestmark = pytest.mark.e2e
__all__ = ["browser"]
SECRET = b"e2e-secret-key-for-sessions"  # start_bridge's secret_key


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    with served(tmp_path_factory.mktemp("web-survey")) as running:
        yield running


def survey_link(bridge: Bridge, language: str) -> tuple[int, str]:
    """Register a resolved report and return its id and its survey link."""
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    body = {"title": "打印机卡纸" if language == "zh-CN" else "Printer jams", "priority": "P3",
            "reporter": "Wang", "email": "wang@example.cn", "language": language}  # fmt: skip
    incident = requests.post(f"{bridge.url}/api/v1/incidents", json=body, headers=headers,
                             timeout=10).json()  # fmt: skip
    resolution = {"root_cause": "x", "solution": "new roller"}
    requests.post(f"{bridge.url}/api/v1/incidents/{incident['id']}/resolve", json=resolution,
                  headers=headers, timeout=10).raise_for_status()  # fmt: skip
    token = sign_ack(SECRET, incident_id=incident["id"], person="reporter", now=utcnow(),
                     ttl=timedelta(days=1), purpose=SURVEY)  # fmt: skip
    return int(incident["id"]), f"{bridge.url}/survey/{token}"


def score_of(bridge: Bridge, incident_id: int) -> tuple[Any, Any]:
    with bridge.store.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
    return row.satisfaction, row.satisfaction_by


@pytest.mark.parametrize(
    ("language", "locale", "asked", "thanked", "refused"),
    [
        ("en", "en-US", "Your rating", "Your rating of 2/5 was recorded", "already answered"),
        ("zh-CN", "en-US", "您的评分", "评分 2/5 已记录", "已提交"),
    ],
)
def test_a_reporter_rates_once_in_their_language(
    browser: Any, bridge: Bridge, language: str, locale: str, asked: str, thanked: str,
    refused: str,
) -> None:  # fmt: skip
    incident_id, link = survey_link(bridge, language)
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(link)
        assert asked in page.inner_text("legend")
        assert score_of(bridge, incident_id) == (None, None)  # opening the link records nothing
        page.check("#score-2")
        page.fill("#comment", "slow but friendly")
        page.click("#send")
        assert thanked in page.inner_text("#thanks")
        page.goto(link)
        assert refused in page.inner_text("#refused")
        assert score_of(bridge, incident_id) == (2, "reporter")
        assert errors == []
    finally:
        context.close()

"""The survey link of the follow-up mail: GET shows the form, one POST records, a low score pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.bridge.helpers import OPERATOR, bearer
from tests.bridge.notify.reporter_bridge import Bridge, reporter_bridge, text_of
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in
from tocsin.bridge.incidents.serialize import timeline_json
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.schema import incidents


@dataclass
class Surveyed:
    bridge: Bridge
    client: TestClient
    incident_id: int
    link: str  # the path of the survey link the reporter was mailed

    def row(self) -> Any:
        with self.bridge.runtime.store.connect() as conn:
            return conn.execute(select(incidents).where(incidents.c.id == self.incident_id)).one()

    def answers(self) -> list[dict[str, Any]]:
        with self.bridge.runtime.store.connect() as conn:
            timeline = timeline_json(conn, self.incident_id)
        return [e["data"] for e in timeline if e["kind"] == "incident.survey_answered"]

    def answer(self, score: str, comment: str = "") -> Any:
        return self.client.post(self.link, data={"score": score, "comment": comment})


@pytest.fixture
def survey(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Surveyed]]:
    """Return a maker: report an incident, resolve it, and wait for the follow-up's survey link.

    On SQLite and PostgreSQL: the link is spent and the answer recorded in one transaction.
    """
    with reporter_bridge(database_url, tmp_path) as bridge:
        with TestClient(create_app(bridge.runtime, start_workers=False)) as client:

            def make(**fields: object) -> Surveyed:
                incident_id = bridge.report(**fields)
                bridge.runtime.incidents.act(incident_id, "ack", actor="sam")
                bridge.runtime.incidents.act(incident_id, "resolve", actor="sam",
                                             root_cause="x", solution="Cleared.")  # fmt: skip
                bridge.clock.advance(days=3)
                follow_up = bridge.deliver()[-1]
                url = re.search(r"https://desk\.example\.com(/survey/\S+)", text_of(follow_up))
                assert url is not None, text_of(follow_up)
                return Surveyed(bridge, client, incident_id, url.group(1))

            yield make


def test_opening_the_link_shows_the_form_and_records_nothing(
    survey: Callable[..., Surveyed],
) -> None:
    surveyed = survey()
    page = surveyed.client.get(surveyed.link)
    assert page.status_code == 200 and 'name="score"' in page.text
    assert f"How did we do with incident #{surveyed.incident_id}?" in page.text
    assert surveyed.answers() == [] and surveyed.row().satisfaction is None


def test_the_answer_is_recorded_once_as_the_reporters(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    done = surveyed.answer("4", "quick and friendly")
    assert done.status_code == 200 and "Your rating of 4/5 was recorded" in done.text
    again = surveyed.answer("1", "changed my mind")
    assert again.status_code == 409 and "already answered" in again.text
    assert surveyed.client.get(surveyed.link).status_code == 409
    row = surveyed.row()
    assert (row.satisfaction, row.satisfaction_by) == (4, "reporter")
    assert surveyed.answers() == [{"score": 4, "comment": "quick and friendly", "by": "reporter"}]


def test_two_answers_at_once_record_one(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    app = surveyed.client.app
    with TestClient(app) as first, TestClient(app) as second:
        with ThreadPoolExecutor(2) as pool:
            sent = [pool.submit(c.post, surveyed.link, data={"score": s})
                    for c, s in ((first, "5"), (second, "1"))]  # fmt: skip
            codes = sorted(future.result().status_code for future in sent)
    assert codes == [200, 409]
    assert len(surveyed.answers()) == 1


def test_an_expired_link_is_refused_and_changes_nothing(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    surveyed.bridge.clock.advance(days=15)
    assert surveyed.client.get(surveyed.link).status_code == 410
    refused = surveyed.answer("5")
    assert refused.status_code == 410 and "expired" in refused.text
    assert surveyed.answers() == [] and surveyed.row().satisfaction is None


def test_an_altered_link_is_refused(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    surveyed.link = surveyed.link[:-3] + ("AAA" if not surveyed.link.endswith("AAA") else "BBB")
    assert surveyed.answer("5").status_code == 403
    assert surveyed.answers() == []


def test_an_acknowledge_link_is_no_survey_link(survey: Callable[..., Surveyed]) -> None:
    from tocsin.bridge.notify.links import sign_ack

    surveyed = survey()
    now = surveyed.bridge.clock()
    token = sign_ack(b"s", incident_id=surveyed.incident_id, person="reporter", now=now)
    assert surveyed.client.post(f"/survey/{token}", data={"score": "5"}).status_code == 403


def test_a_missing_score_is_asked_again_and_the_link_still_works(
    survey: Callable[..., Surveyed],
) -> None:
    surveyed = survey()
    refused = surveyed.answer("9")
    assert refused.status_code == 422 and "Choose a rating from 1 to 5" in refused.text
    assert surveyed.answer("5").status_code == 200


def test_the_page_speaks_the_reporters_language(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey(language="zh-CN")
    page = surveyed.client.get(surveyed.link)
    assert '<html lang="zh-CN">' in page.text and "您的评分" in page.text
    assert "已记录" in surveyed.answer("5").text


def test_a_low_score_pages_the_teams_manager(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    surveyed.answer("1", "nobody called me back")
    pages = surveyed.bridge.deliver()
    (page,) = [mail for mail in pages if mail["To"] == "mia@corp.example"]
    assert "Low satisfaction from the reporter" in page["Subject"]
    assert "rated the handling 1/5" in text_of(page) and "nobody called me back" in text_of(page)
    assert surveyed.answers()[0]["manager_paged"] == "mia"


def test_a_low_score_without_a_manager_is_said_loudly(
    survey: Callable[..., Surveyed], caplog: pytest.LogCaptureFixture
) -> None:
    surveyed = survey(team="lonely")
    surveyed.answer("2")
    assert "team 'lonely' has no manager" in surveyed.answers()[0]["manager_missing"]
    assert "no manager was paged" in caplog.text
    assert [m for m in surveyed.bridge.deliver() if m["To"] != "wang@example.cn"] == []


def test_a_good_score_pages_nobody(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    surveyed.answer("3")
    assert surveyed.bridge.deliver() == []
    assert "manager_paged" not in surveyed.answers()[0]


def test_staff_closing_later_keeps_the_reporters_score(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    surveyed.answer("2", "slow")
    runtime = surveyed.bridge.runtime
    runtime.incidents.act(surveyed.incident_id, "close", actor="sam", satisfaction=5)
    row = surveyed.row()
    assert (row.satisfaction, row.satisfaction_by, row.status) == (2, "reporter", "closed")


def test_the_sla_report_counts_the_reporters_own_scores(survey: Callable[..., Surveyed]) -> None:
    surveyed = survey()
    surveyed.answer("4")
    runtime = surveyed.bridge.runtime
    other = surveyed.bridge.report(email=None)
    runtime.incidents.act(other, "ack", actor="sam")
    runtime.incidents.act(other, "resolve", actor="sam", root_cause="x", solution="y")
    runtime.incidents.act(other, "close", actor="sam", satisfaction=2)
    surveyed.bridge.clock.advance(minutes=1)  # the window ends now: the last one opened before
    report = surveyed.client.get("/api/v1/reports/sla?since=30d", headers=bearer(OPERATOR))
    shown = report.json()["total"]["satisfaction"]
    assert (shown["count"], shown["by_reporter"], shown["mean"]) == (2, 1, 3.0)


def test_the_close_form_asks_no_score_once_the_reporter_rated(
    survey: Callable[..., Surveyed],
) -> None:
    surveyed = survey()
    surveyed.answer("3")
    # The bridge's public URL is https: its session cookie travels only over https.
    with TestClient(surveyed.client.app, base_url="https://desk.example.com") as client:
        token = sign_in(client)
        page = client.get(f"/incidents/{surveyed.incident_id}").text
        assert 'id="rated-by-reporter"' in page and 'name="satisfaction"' not in page
        closed = client.post(f"/incidents/{surveyed.incident_id}/close",
                             data={"csrf_token": token, "comment": "called back"},
                             follow_redirects=False)  # fmt: skip
    assert closed.status_code == 303
    row = surveyed.row()
    assert (row.status, row.satisfaction, row.satisfaction_by) == ("closed", 3, "reporter")

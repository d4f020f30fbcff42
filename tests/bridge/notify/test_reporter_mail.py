"""The reporter hears of their report by mail, through a real SMTP server: receipt to follow-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.bridge.notify.reporter_bridge import MESSAGE_ID, Bridge, reporter_bridge, text_of
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in
from tocsin.bridge.incidents.serialize import timeline_json
from tocsin.bridge.notify.worker import RetryPolicy
from tocsin.bridge.platform.config import Smtp
from tocsin.bridge.platform.reporter_settings import ReporterMailSettings
from tocsin.bridge.server.app import create_app


@pytest.fixture
def bridge(database_url: str, tmp_path: Path) -> Iterator[Bridge]:
    """A bridge mailing reporters, on SQLite and on PostgreSQL."""
    with reporter_bridge(database_url, tmp_path) as built:
        yield built


def test_the_receipt_names_the_incident_and_the_promised_response(bridge: Bridge) -> None:
    incident_id = bridge.report()
    (mail,) = bridge.deliver()
    assert mail["To"] == "wang@example.cn" and mail["From"] == "desk@corp.example"
    assert mail["Subject"] == f"[#{incident_id}] We have received your report: Mail is slow"
    assert MESSAGE_ID.match(mail["Message-ID"]).groups() == (str(incident_id), "receipt", "tocsin")  # type: ignore[union-attr]
    assert mail["Auto-Submitted"] == "auto-generated"
    text = text_of(mail)
    assert f"incident #{incident_id}" in text
    assert "first response within 30 minutes" in text and "at least every 2 hours" in text


def test_a_chinese_reporter_gets_chinese_mail_with_business_time(bridge: Bridge) -> None:
    incident_id = bridge.report(language="zh-CN", team="lonely")
    (mail,) = bridge.deliver()
    assert mail["Subject"] == f"[#{incident_id}] 我们已受理您的报告：Mail is slow"
    assert "我们承诺在 9 小时（工作时间） 内首次响应" in text_of(mail)


def test_an_incident_without_an_address_mails_nobody(bridge: Bridge) -> None:
    bridge.report(email=None)
    assert bridge.deliver() == []


def test_only_public_notes_reach_the_reporter(bridge: Bridge) -> None:
    incident_id = bridge.report()
    bridge.deliver()
    act = bridge.runtime.incidents.act
    act(incident_id, "ack", actor="sam")
    act(incident_id, "notes", actor="sam", text="INTERNAL relay-7 queue is 40k deep")
    act(incident_id, "notes", actor="sam", text="We found a stuck mail queue and are clearing it.",
        public=True)  # fmt: skip
    act(incident_id, "notes", actor=None, text="thanks!", from_reporter=True)
    (mail,) = bridge.deliver()
    assert mail["Subject"] == f"[#{incident_id}] Update on your report: Mail is slow"
    assert "We found a stuck mail queue and are clearing it." in text_of(mail)
    assert "INTERNAL" not in text_of(mail) and "thanks!" not in text_of(mail)


def test_the_resolution_says_the_solution_not_the_root_cause(bridge: Bridge) -> None:
    incident_id = bridge.report()
    bridge.runtime.incidents.act(incident_id, "ack", actor="sam")
    bridge.runtime.incidents.act(incident_id, "resolve", actor="sam",
                                 root_cause="INTERNAL disk of relay-7 full",
                                 solution="We cleared the mail queue; mail flows again.")  # fmt: skip
    receipt, resolved = bridge.deliver()
    assert resolved["Subject"] == f"[#{incident_id}] Resolved: Mail is slow"
    assert "We cleared the mail queue; mail flows again." in text_of(resolved)
    assert "INTERNAL" not in text_of(resolved)


def test_the_follow_up_comes_on_the_working_day_with_a_survey_link(bridge: Bridge) -> None:
    incident_id = bridge.report()
    bridge.runtime.incidents.act(incident_id, "ack", actor="sam")
    bridge.runtime.incidents.act(incident_id, "resolve", actor="sam", root_cause="x",
                                 solution="Cleared.")  # fmt: skip
    bridge.deliver()
    bridge.clock.advance(days=1)
    assert bridge.deliver() == []  # T0 is a Monday: the 2nd working day is Wednesday
    bridge.clock.advance(days=2)
    (mail,) = bridge.deliver()
    assert mail["Subject"] == f"[#{incident_id}] How did we do? Mail is slow"
    assert MESSAGE_ID.match(mail["Message-ID"]).group(2) == "follow_up"  # type: ignore[union-attr]
    assert "https://desk.example.com/survey/" in text_of(mail)


def test_a_title_with_line_breaks_cannot_add_a_header(bridge: Bridge) -> None:
    incident_id = bridge.report(title="Help\r\nBcc: thief@evil.example\r\n\r\nfake body")
    (mail,) = bridge.deliver()
    assert mail["Bcc"] is None and bridge.mailbox.recipients[-1] == ["wang@example.cn"]
    subject = str(mail["Subject"]).strip()  # a long subject is folded onto a second line
    assert subject.startswith(f"[#{incident_id}] ") and "Bcc" in subject  # data, not a header


def test_mails_never_carry_labels_internal_notes_or_another_reporters_data(
    bridge: Bridge,
) -> None:
    first = bridge.report(labels={"secret": "LABEL-VALUE-123"}, host="db-internal-9")
    second = bridge.report(reporter="Li Lei", email="li.lei@example.org", title="VPN down")
    act = bridge.runtime.incidents.act
    for incident_id in (first, second):
        act(incident_id, "ack", actor="sam")
        act(incident_id, "notes", actor="sam", text=f"INTERNAL-{incident_id} do not share")
        act(incident_id, "notes", actor="sam", text="On it.", public=True)
        act(incident_id, "resolve", actor="sam", root_cause="INTERNAL-cause", solution="Fixed.")
    bridge.clock.advance(days=3)
    mails = bridge.deliver()
    assert len(mails) == 8
    for mail in mails:
        whole = mail.as_string()
        assert "LABEL-VALUE" not in whole and "db-internal" not in whole
        assert "INTERNAL" not in whole and "sam" not in whole.lower().replace("sample", "")
        mine = "wang@example.cn" if mail["To"] == "wang@example.cn" else "li.lei@example.org"
        theirs = {"wang@example.cn": ("li.lei", "Li Lei", "VPN down"),
                  "li.lei@example.org": ("wang@", "Wang Fang", "Mail is slow")}[mine]  # fmt: skip
        assert not any(other in whole for other in theirs), (mail["Subject"], theirs)


def test_a_mail_that_cannot_be_delivered_is_an_event_on_the_incident(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    bridge.worker.smtp = Smtp(host="127.0.0.1", port=9, timeout=2)  # nothing listens there
    bridge.worker.retry = RetryPolicy(max_attempts=1)
    incident_id = bridge.report()
    assert bridge.deliver() == []
    with bridge.runtime.store.connect() as conn:
        timeline = timeline_json(conn, incident_id)
    failed = [e for e in timeline if e["kind"] == "incident.reporter_mail_failed"]
    assert [e["data"]["mail"] for e in failed] == ["receipt"]
    assert "wang@example.cn" not in caplog.text and "wang@example.cn" not in str(failed)
    assert "dead letter" in caplog.text
    app = create_app(bridge.runtime, start_workers=False)
    with TestClient(app, base_url="https://desk.example.com") as client:  # https cookies
        sign_in(client)
        page = client.get(f"/incidents/{incident_id}").text
    assert "A mail to the reporter could not be delivered" in page
    assert "Mails to the reporter" in page and "the receipt — NOT delivered" in page
    assert "the receipt: reporter mail: smtp 127.0.0.1:9: cannot connect" in page
    text = bridge.runtime.metrics.exposition().decode()
    assert (
        'tocsin_bridge_notifications_total{channel_type="reporter_mail",result="dead"} 1.0' in text
    )


def test_no_mail_when_reporter_mail_is_off(sqlite_url: str, tmp_path: Path) -> None:
    with reporter_bridge(sqlite_url, tmp_path, ReporterMailSettings(enabled=False)) as bridge:
        bridge.report()
        assert bridge.deliver() == []


def test_the_message_id_uses_the_configured_domain(sqlite_url: str, tmp_path: Path) -> None:
    settings = ReporterMailSettings(domain="desk.corp.example", reply_to="desk@corp.example")
    with reporter_bridge(sqlite_url, tmp_path, settings) as bridge:
        bridge.report()
        (mail,) = bridge.deliver()
    assert mail["Message-ID"].endswith("@desk.corp.example>")
    assert mail["Reply-To"] == "desk@corp.example"


def test_the_follow_up_waits_for_the_calendar_not_the_wall_clock(bridge: Bridge) -> None:
    incident_id = bridge.report()
    bridge.runtime.incidents.act(incident_id, "ack", actor="sam")
    bridge.runtime.incidents.act(incident_id, "resolve", actor="sam", root_cause="x",
                                 solution="y")  # fmt: skip
    bridge.deliver()
    bridge.clock.advance(timedelta(hours=30).total_seconds())
    assert bridge.deliver() == []


def test_the_incident_page_says_which_mails_the_reporter_got(bridge: Bridge) -> None:
    incident_id = bridge.report()
    bridge.deliver()
    bridge.runtime.incidents.act(incident_id, "notes", actor="sam", text="On it.", public=True)
    app = create_app(bridge.runtime, start_workers=False)
    with TestClient(app, base_url="https://desk.example.com") as client:  # https cookies
        sign_in(client)
        page = client.get(f"/incidents/{incident_id}").text
    assert "the receipt — delivered" in page and "a public update — waiting" in page

"""The timeline in sentences: no raw keys, levels counted as people count, both languages."""

from __future__ import annotations

from datetime import timedelta

from tests.bridge.helpers import FakeClock
from tests.bridge.testclient import TestClient
from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.incidents.retitle import Retitle, follow_alert_text
from tocsin.bridge.incidents.service import add_note
from tocsin.bridge.paging.escalation import Step
from tocsin.bridge.paging.oncall import NO_ADDRESS, Reach
from tocsin.bridge.policy.model import Target
from tocsin.bridge.runtime import Runtime

RAW = ("level:", "path:", "step:", "paused seconds", "paused_seconds", "name: response")


def paused_and_escalated(runtime: Runtime, clock: FakeClock) -> int:
    incident = runtime.incidents.create(
        title="db down", priority="P1", actor="desk", escalation_policy="ops"
    )
    runtime.incidents.act(incident, "ack", actor="alice")
    runtime.incidents.act(incident, "pause", actor="alice", reason="waiting on the reporter")
    clock.advance(12 * 60)
    runtime.incidents.act(incident, "resume", actor="alice", reason="reporter called back")
    runtime.incidents.act(incident, "escalate", actor="alice", reason="need a DBA")
    return incident


def timeline_of(html: str) -> str:
    return html[html.index('id="incident-timeline"') : html.index("</ol>")]


def test_events_read_as_sentences_without_raw_keys(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident = paused_and_escalated(runtime, clock)
    text = timeline_of(client.get(f"/incidents/{incident}").text)
    for raw in RAW:
        assert raw not in text, raw
    assert "Paged Primary on-call" in text
    assert "Paused by alice" in text and "waiting on the reporter" in text
    assert "Resumed by alice after 12m 00s paused" in text
    assert "Escalation 1 by alice: engaged the experts, paged Expert engineer" in text


def test_one_manual_escalation_is_escalation_one(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident = paused_and_escalated(runtime, clock)
    assert '<b class="escalations">1</b>' in client.get(f"/incidents/{incident}").text


def test_the_timeline_speaks_chinese(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident = paused_and_escalated(runtime, clock)
    html = client.get(f"/incidents/{incident}", headers={"Accept-Language": "zh-CN"}).text
    text = timeline_of(html)
    assert "alice 暂停了计时" in text and "恢复了计时，共暂停 12分 00秒" in text
    assert "发起第 1 次升级" in text
    for english in ("Paged", "Paused by", "Escalation"):
        assert english not in text


def test_times_carry_the_instant_for_the_viewers_zone(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident = paused_and_escalated(runtime, clock)
    text = timeline_of(client.get(f"/incidents/{incident}").text)
    assert (
        '<time class="local" datetime="2026-03-02T09:12:00Z" title="2026-03-02 09:12:00 UTC">'
        in text
    )


def test_an_automatic_resolution_says_why_in_the_readers_language(
    client: TestClient, runtime: Runtime
) -> None:
    incident = runtime.incidents.create(title="disk", priority="P2", actor=None)
    runtime.incidents.act(incident, "resolve", actor=None, reason="all alerts resolved")
    html = client.get(f"/incidents/{incident}", headers={"Accept-Language": "zh-CN"}).text
    assert "所有告警已恢复，自动解决" in timeline_of(html)
    assert "all alerts resolved" not in html


def test_a_step_that_reached_nobody_is_marked_on_the_incident_page(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident = runtime.incidents.create(title="db down", priority="P1", actor="desk")
    unreached = Reach((), (Target("person", "dan"),), {"person:dan": NO_ADDRESS})
    step = Step("response", 1, timedelta(minutes=5), "response", (), rank=1)
    with runtime.store.begin() as conn:
        record_event(conn, [], incident_id=incident, kind="incident.escalated", actor=None,
                     now=clock(), data=step.event_data(unreached))  # fmt: skip
    text = timeline_of(client.get(f"/incidents/{incident}").text)
    assert 'class="unreached small"' in text
    assert "has no email and no chat channel" in text


def retitled_twice(runtime: Runtime) -> int:
    """An incident retitled by its alert, then by alice, its alert text hostile markup."""
    incident = runtime.incidents.create(title="disk full", priority="P2", actor="desk")
    change = Retitle(incident, "disk full", "<b>disk 99%</b>", "", "")
    with runtime.store.begin() as conn:
        follow_alert_text(conn, runtime.hooks, [change], runtime.clock())
    runtime.incidents.act(incident, "retitle", actor="alice", title="db1 data volume")
    return incident


def test_a_title_change_names_the_old_and_new_title(client: TestClient, runtime: Runtime) -> None:
    incident = retitled_twice(runtime)
    text = timeline_of(client.get(f"/incidents/{incident}").text)
    assert (
        "Title follows the alert: changed from “disk full” to “&lt;b&gt;disk 99%&lt;/b&gt;”" in text
    )
    assert "Title changed by alice from “&lt;b&gt;disk 99%&lt;/b&gt;” to “db1 data volume”" in text


def test_a_title_change_speaks_chinese(client: TestClient, runtime: Runtime) -> None:
    incident = retitled_twice(runtime)
    html = client.get(f"/incidents/{incident}", headers={"Accept-Language": "zh-CN"}).text
    text = timeline_of(html)
    assert "标题随告警更新：从“disk full”改为“&lt;b&gt;disk 99%&lt;/b&gt;”" in text
    assert "alice 将标题从“&lt;b&gt;disk 99%&lt;/b&gt;”改为“db1 data volume”" in text


def test_a_reporters_mail_reply_reads_as_theirs_in_both_languages(
    client: TestClient, runtime: Runtime
) -> None:
    incident = runtime.incidents.create(title="db down", priority="P3", actor="desk")
    with runtime.store.begin() as conn:
        add_note(
            conn,
            runtime.hooks,
            incident,
            actor=None,
            now=runtime.clock(),
            text="Still down here.",
            from_reporter=True,
            origin={"sender": "wang@customer.example.com", "via": "email"},
        )
    english = timeline_of(client.get(f"/incidents/{incident}").text)
    assert "Reply from the reporter" in english and "Still down here." in english
    html = client.get(f"/incidents/{incident}", headers={"Accept-Language": "zh-CN"}).text
    assert "报告人的回复" in timeline_of(html)

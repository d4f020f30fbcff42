"""The gateway: a mail opens an incident like the form does, a reply is the reporter's note."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from tests.bridge.mailin.conftest import POLICY, SETTINGS
from tests.bridge.mailin.mails import SENDER, dsn, mail, malformed, reply_to, with_attachment
from tests.bridge.sla.harness import (
    FakeClock,
    clock_row,
    event_data,
    incident_row,
    make_runtime,
    pages,
)
from tocsin.bridge.mailin.gateway import Gateway, MailMetrics
from tocsin.bridge.notify.reporter import message_id
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import incidents


def take(gateway: Gateway, raw: bytes, sender: str | None = SENDER) -> Any:
    return gateway.take(raw, envelope_sender=sender, transport="smtp")


def count(registry: CollectorRegistry, outcome: str, reason: str = "") -> float:
    labels = {"transport": "smtp", "outcome": outcome, "reason": reason}
    return registry.get_sample_value("tocsin_bridge_mail_total", labels) or 0.0


def incident_count(runtime: Runtime) -> int:
    with runtime.store.connect() as conn:
        return len(conn.execute(select(incidents.c.id)).all())


def test_a_mail_opens_an_incident_that_pages_per_the_route(
    gateway: Gateway, runtime: Runtime, registry: CollectorRegistry
) -> None:
    outcome = take(gateway, mail())
    assert outcome.action == "opened"
    row = incident_row(runtime, outcome.incident_id)
    assert (row.title, row.priority, row.team) == ("Payroll server is down", "P3", "desk")
    assert (row.reporter, row.reporter_contact, row.report_type) == ("Wang Li", SENDER, "email")
    assert (row.reporter_email, row.reporter_language) == (SENDER, None)
    assert row.description == "Nobody can log in since 9:00."
    assert pages(runtime) == [("person:ann",)]
    assert count(registry, "opened") == 1


def test_a_subject_keyword_sets_the_priority_and_chinese_the_language(
    gateway: Gateway, runtime: Runtime
) -> None:
    outcome = take(gateway, mail("紧急：支付系统无法登录"))
    row = incident_row(runtime, outcome.incident_id)
    assert (row.priority, row.reporter_language) == ("P1", "zh-CN")


def test_attachments_are_listed_by_name_and_size(gateway: Gateway, runtime: Runtime) -> None:
    row = incident_row(runtime, take(gateway, with_attachment()).incident_id)
    assert row.description.startswith("See the log.")
    assert "- error.log (1,234 bytes)" in row.description


def test_the_same_mail_twice_opens_one_incident(gateway: Gateway, runtime: Runtime) -> None:
    raw = mail()
    first, second = take(gateway, raw), take(gateway, raw)
    assert (second.action, second.incident_id) == ("duplicate", first.incident_id)
    assert incident_count(runtime) == 1


def test_a_reply_is_the_reporters_note_and_no_update_by_the_desk(
    gateway: Gateway, runtime: Runtime, clock: FakeClock
) -> None:
    opened = take(gateway, mail("urgent: payroll down")).incident_id
    runtime.incidents.act(opened, "ack", actor="ann")
    update_due = clock_row(runtime, opened, "update").due_at
    clock.advance(minutes=10)
    bridge_id = message_id(opened, "receipt", "tocsin")  # as the reporter's mails carry it
    outcome = take(gateway, reply_to(bridge_id, "Still down.\n\n> Payroll server is down"))
    assert (outcome.action, outcome.incident_id) == ("noted", opened)
    note = event_data(runtime, opened, "incident.note_added")[0]
    assert note["text"] == "Still down."
    assert (note["from_reporter"], note["sender"], note["via"]) == (True, SENDER, "email")
    assert clock_row(runtime, opened, "update").due_at == update_due
    assert incident_row(runtime, opened).last_update_at is None


def test_a_subject_tag_threads_a_reply_without_headers(gateway: Gateway, runtime: Runtime) -> None:
    opened = take(gateway, mail()).incident_id
    outcome = take(gateway, mail(f"Re: [#{opened}] Payroll server is down", "More detail."))
    assert (outcome.action, outcome.incident_id) == ("noted", opened)


def test_a_tag_of_no_incident_opens_a_new_one(gateway: Gateway) -> None:
    assert take(gateway, mail("Re: [#999] old thread")).action == "opened"


def test_a_reply_to_a_closed_incident_opens_a_new_one_that_says_so(
    gateway: Gateway, runtime: Runtime
) -> None:
    first = take(gateway, mail()).incident_id
    runtime.incidents.act(first, "resolve", actor="ann", root_cause="c", solution="s")
    noted = take(gateway, mail(f"Re: [#{first}] Payroll", "Thanks, fixed."))
    assert (noted.action, noted.incident_id) == ("noted", first)  # resolved: still its note
    runtime.incidents.act(first, "close", actor="ann")
    again = take(gateway, mail(f"Re: [#{first}] Payroll", "Broken again."))
    assert again.action == "opened" and again.incident_id != first
    description = incident_row(runtime, again.incident_id).description
    assert description.endswith(f"A reply to closed incident #{first}")


def test_a_reply_while_paused_for_the_reporter_resumes_the_clocks(
    gateway: Gateway, runtime: Runtime, clock: FakeClock
) -> None:
    opened = take(gateway, mail("urgent: payroll down")).incident_id
    runtime.incidents.act(opened, "ack", actor="ann")
    runtime.incidents.act(opened, "pause", actor="ann", reason="which browser?")
    clock.advance(minutes=30)
    take(gateway, mail(f"Re: [#{opened}] payroll", "Firefox 128."))
    row = incident_row(runtime, opened)
    assert not row.paused and row.paused_seconds == 1800
    assert clock_row(runtime, opened, "resolution").due_at is not None
    assert event_data(runtime, opened, "incident.resumed")[0]["paused_seconds"] == 1800


def test_the_same_reply_twice_is_one_note(gateway: Gateway, runtime: Runtime) -> None:
    opened = take(gateway, mail()).incident_id
    raw = mail(f"Re: [#{opened}]", "again")
    take(gateway, raw)
    assert take(gateway, raw).action == "duplicate"
    assert len(event_data(runtime, opened, "incident.note_added")) == 1


def test_machine_mail_opens_nothing_and_is_counted(
    gateway: Gateway, runtime: Runtime, registry: CollectorRegistry
) -> None:
    assert take(gateway, dsn(), sender="<>").reason == "bounce"
    assert take(gateway, mail(headers={"Auto-Submitted": "auto-replied"})).action == "ignored"
    assert incident_count(runtime) == 0
    assert count(registry, "ignored", "auto_submitted") == 1


def test_malformed_and_oversize_mail_is_refused_with_a_reason(
    gateway: Gateway, registry: CollectorRegistry
) -> None:
    broken = take(gateway, malformed())
    assert (broken.action, broken.reason, broken.smtp_code) == ("refused", "malformed", "550 5.6.0")
    large = take(gateway, mail(body="x" * 70_000))
    assert (large.reason, large.smtp_code) == ("too_large", "552 5.3.4")
    assert count(registry, "refused", "too_large") == 1


def test_open_dedupe_note_and_resume_on_each_engine(
    database_url: str, registry: CollectorRegistry
) -> None:
    clock = FakeClock()
    built = make_runtime(database_url, clock, POLICY)
    try:
        gateway = Gateway(SETTINGS, lambda: built.incidents, MailMetrics(registry))
        raw = mail("紧急：支付系统无法登录", "今天九点以后无法登录。", charset="gb18030")
        opened = take(gateway, raw).incident_id
        assert take(gateway, raw).action == "duplicate"
        built.incidents.act(opened, "ack", actor="ann")
        built.incidents.act(opened, "pause", actor="ann", reason="which browser?")
        clock.advance(minutes=3)
        assert take(gateway, mail(f"Re: [#{opened}]", "Firefox.")).action == "noted"
        row = incident_row(built, opened)
        assert (row.priority, row.paused, row.description) == (
            "P1",
            False,
            "今天九点以后无法登录。",
        )
    finally:
        built.store.dispose()

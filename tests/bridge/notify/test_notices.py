"""Notices: messages about no incident (SLA reports) queued once per key, with a dated headline."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.email import build_email
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.notices import Notice, describe_period, enqueue_notice, notice_message
from tocsin.bridge.notify.render import as_text
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata, outbox

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)
WEEK = Notice(
    event="report.sla",
    channel="ops-chat",
    key="report:weekly:2026-11-23T01:00:00Z:ops-chat",
    summary="SLA report ...",
    since=datetime(2026, 11, 16, 9, tzinfo=SHANGHAI),
    until=datetime(2026, 11, 23, 9, tzinfo=SHANGHAI),
    fields={"report": {"total": {"opened": 3}}},
)


@pytest.mark.parametrize(
    ("since", "until", "shown"),
    [
        (datetime(2026, 11, 16, 9), datetime(2026, 11, 23, 9), "2026-11-16 – 2026-11-23"),
        (datetime(2026, 11, 23, 9), datetime(2026, 11, 23, 21), "2026-11-23 09:00 – 21:00"),
        (
            datetime(2026, 11, 22, 21),
            datetime(2026, 11, 23, 9),
            "2026-11-22 21:00 – 2026-11-23 09:00",
        ),
    ],
)
def test_a_period_reads_as_dates_or_times(since: datetime, until: datetime, shown: str) -> None:
    assert describe_period(since, until) == shown


def test_a_report_has_a_dated_headline_and_no_priority_or_incident() -> None:
    message = notice_message(WEEK)
    assert message.headline == "SLA report 2026-11-16 – 2026-11-23"
    assert as_text(message).splitlines()[2:] == ["Summary: SLA report ..."]


def test_a_notice_is_queued_once_without_event_or_incident(database_url: str) -> None:
    store = Store(database_url)
    metadata.create_all(store.engine)
    with store.begin() as conn:
        assert enqueue_notice(conn, WEEK, NOW) is True
        assert enqueue_notice(conn, WEEK, NOW) is False
    with store.begin() as conn:  # queued again by a later transaction: still once
        assert enqueue_notice(conn, WEEK, NOW) is False
    with store.connect() as conn:
        rows = conn.execute(select(outbox)).all()
    store.dispose()
    assert [(r.event_id, r.incident_id, r.idempotency_key) for r in rows] == [
        (None, None, "report:weekly:2026-11-23T01:00:00Z:ops-chat")
    ]
    body = rows[0].payload["body"]
    assert body == {
        "event": "report.sla",
        "occurred_at": "2026-11-23T01:05:00Z",
        "report": {"total": {"opened": 3}},
    }
    assert Message.from_json(rows[0].payload["message"]).headline.startswith("SLA report 2026")


def test_a_key_unfit_for_a_header_is_hashed(store: Store) -> None:
    notice = Notice(event="report.sla", channel="ops-chat", key="report:周报:2026-11-23:ops-chat")
    with store.begin() as conn:
        enqueue_notice(conn, notice, NOW)
    with store.connect() as conn:
        key = conn.execute(select(outbox.c.idempotency_key)).scalar_one()
    assert key.startswith("report.sla:") and key.isascii() and len(key) <= 100


def test_a_mailed_notice_has_the_headline_as_subject_and_no_incident_header() -> None:
    message = notice_message(WEEK)
    mail = build_email(Notification(WEEK.key, {}, message, ()), "tocsin@example.com", ("a@b",))
    assert mail["Subject"] == "SLA report 2026-11-16 – 2026-11-23"
    assert mail["X-Tocsin-Incident"] is None

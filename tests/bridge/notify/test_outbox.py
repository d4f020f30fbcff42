from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from tests.bridge.notify.conftest import policy_with, rendered
from tests.bridge.notify.sample import NOW
from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.incidents.service import acknowledge, create_incident
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.links import verify_ack
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.policy.model import Target
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import sla_clocks

KEY = b"test-secret"
CHANNELS = """
  audit: {type: webhook, url: "http://127.0.0.1:9/audit", events: ["*"]}
  ops-chat: {type: wecom, url: "http://127.0.0.1:9/wecom?key=K", events: [incident.triggered]}
  carol-ding: {type: dingtalk, url: "http://127.0.0.1:9/ding?access_token=T"}
"""
PEOPLE = "  carol: {name: Carol, email: carol@example.com, channels: [carol-ding]}"


def make_outbox(**overrides: Any) -> Outbox:
    values: dict[str, Any] = {
        "public_url": "https://oncall.example.com",
        "secret_key": KEY,
        "similar": None,
    }
    values.update(overrides)
    return Outbox(policy_with(CHANNELS, PEOPLE), **values)


def open_incident(store: Store, box: Outbox) -> int:
    with store.begin() as conn:
        return create_incident(
            conn, [box.hook], now=NOW, title="磁盘满", priority="P1", host="db-1"
        )


def rows(store: Store, box: Outbox | None = None) -> list[Any]:
    """Return the outbox rows oldest first; with `box`, its pages rendered as they leave."""
    with store.connect() as conn:
        found = list(reversed(queue.list_rows(conn, status=None)))
        return rendered(conn, box, found) if box is not None else found


def page(store: Store, box: Outbox, incident_id: int, *targets: Target) -> None:
    with store.begin() as conn:
        event = record_event(conn, [], incident_id=incident_id, kind="incident.escalated",
                             actor=None, now=NOW, data={"level": 0})  # fmt: skip
        box.page(conn, incident_id=incident_id, event_id=event.id, targets=targets, now=NOW)


def test_each_subscribed_channel_gets_one_row_per_event(store: Store) -> None:
    open_incident(store, make_outbox())
    assert sorted(r.channel for r in rows(store)) == ["audit", "ops-chat"]


def test_subscription_row_carries_the_contract_event_json(store: Store) -> None:
    incident_id = open_incident(store, make_outbox())
    body = rows(store)[0].payload["body"]
    assert set(body) == {"event", "occurred_at", "incident"}
    assert (body["event"], body["occurred_at"]) == ("incident.triggered", "2026-03-02T10:00:00Z")
    assert body["incident"]["id"] == incident_id and body["incident"]["title"] == "磁盘满"


def test_channels_not_subscribed_to_an_event_get_nothing(store: Store) -> None:
    box = make_outbox()
    incident_id = open_incident(store, box)
    with store.begin() as conn:
        acknowledge(conn, [box.hook], incident_id, actor="carol", now=NOW)
    assert [r.channel for r in rows(store)].count("ops-chat") == 1


def test_rows_roll_back_with_the_event_that_caused_them(store: Store) -> None:
    box = make_outbox()
    with pytest.raises(RuntimeError), store.begin() as conn:
        create_incident(conn, [box.hook], now=NOW, title="x", priority="P1")
        raise RuntimeError("the change fails after the hook ran")
    assert rows(store) == []


def test_paging_a_person_mails_them_and_messages_their_channels(store: Store) -> None:
    box = make_outbox()
    incident_id = open_incident(store, box)
    page(store, box, incident_id, Target("person", "carol"))
    paged = [r for r in rows(store) if r.recipient == "carol"]
    assert sorted(r.channel for r in paged) == ["carol-ding", "mailto:carol@example.com"]
    assert paged[0].payload["to"] in (["carol@example.com"], [])


def test_a_page_carries_an_ack_link_signed_for_that_person(store: Store) -> None:
    box = make_outbox()
    incident_id = open_incident(store, box)
    page(store, box, incident_id, Target("person", "carol"))
    link = next(r for r in rows(store, box) if r.recipient == "carol").payload["message"]["ack_url"]
    assert link.startswith("https://oncall.example.com/ack/")
    claim = verify_ack(KEY, link.rsplit("/", 1)[1], NOW)
    assert (claim.incident_id, claim.person) == (incident_id, "carol")


def test_an_acknowledged_incident_gets_no_ack_link(store: Store) -> None:
    box = make_outbox()
    incident_id = open_incident(store, box)
    with store.begin() as conn:
        acknowledge(conn, [], incident_id, actor="dave", now=NOW)
    page(store, box, incident_id, Target("person", "carol"))
    assert all(r.payload["message"]["ack_url"] is None for r in rows(store, box) if r.recipient)


def test_the_same_event_to_the_same_place_is_queued_once(store: Store) -> None:
    box = make_outbox()
    incident_id = open_incident(store, box)
    page(store, box, incident_id, Target("channel", "carol-ding"), Target("channel", "carol-ding"))
    assert [r.channel for r in rows(store)].count("carol-ding") == 1


def test_sla_events_name_their_clock(store: Store) -> None:
    box = make_outbox()
    incident_id = open_incident(store, box)
    with store.begin() as conn:
        record_event(conn, [box.hook], incident_id=incident_id, kind="incident.sla_warning",
                     actor=None, now=NOW, data={"sla": {"clock": "response"}})  # fmt: skip
    assert rows(store)[-1].payload["body"]["sla"] == "response"


def test_similar_resolutions_are_put_in_the_page(store: Store) -> None:
    from tocsin.bridge.notify.message import PastResolution

    box = make_outbox(similar=lambda conn, incident, memo: [PastResolution(1, "旧", None, "重启")])
    open_incident(store, box)
    assert rows(store)[0].payload["message"]["similar"][0]["solution"] == "重启"


def test_pages_show_how_the_same_alert_on_the_same_service_was_resolved(store: Store) -> None:
    from tocsin.bridge.incidents.service import resolve
    from tocsin.bridge.notify.outbox import kb_resolutions

    box = make_outbox(similar=kb_resolutions)
    same = {"labels": {"alertname": "DiskFull"}, "service": "订单服务"}
    with store.begin() as conn:
        old = create_incident(conn, [], now=NOW, title="旧磁盘满", priority="P1", **same)
        other = create_incident(conn, [], now=NOW, title="x", priority="P1",
                                labels={"alertname": "CPU"}, service="订单服务")  # fmt: skip
        for past in (old, other):
            resolve(conn, [], past, actor="dave", now=NOW, root_cause="日志", solution="清理日志")
    with store.begin() as conn:
        create_incident(conn, [box.hook], now=NOW, title="磁盘满", priority="P1", **same)
    similar = rows(store)[0].payload["message"]["similar"]
    assert [(s["incident_id"], s["solution"]) for s in similar] == [(old, "清理日志")]


def test_pages_written_together_read_one_alerts_past_incidents_once(store: Store) -> None:
    from sqlalchemy import event

    from tocsin.bridge.incidents.service import create_incidents, resolve
    from tocsin.bridge.notify.outbox import kb_resolutions

    box = make_outbox(similar=kb_resolutions)
    same = {"labels": {"alertname": "DiskFull"}, "annotations": {}, "service": "订单服务"}
    with store.begin() as conn:
        old = create_incident(conn, [], now=NOW, title="旧磁盘满", priority="P1",
                              labels=same["labels"], service="订单服务")  # fmt: skip
        resolve(conn, [], old, actor="dave", now=NOW, root_cause="日志", solution="清理日志")
    reads: list[str] = []
    listener = lambda *args: reads.append(args[2]) if "kb_stale" in args[2] else None  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        with store.begin() as conn:
            specs = [{**same, "key": f"storm-{n}", "title": f"磁盘满 {n}", "priority": "P1"}
                     for n in range(5)]  # fmt: skip
            create_incidents(conn, [box.hook], now=NOW, source="alert", specs=specs)
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)
    pages = rows(store)
    assert len(pages) == 10  # each new incident, to the two channels subscribed to it
    assert all([s["incident_id"] for s in p.payload["message"]["similar"]] == [old] for p in pages)
    assert len(reads) == 1


def test_page_on_a_business_clock_says_business_time_left(store: Store) -> None:
    calendars = load_policy(None).calendars  # business: Asia/Shanghai, Mon-Fri 09-12, 13-18
    box = Outbox(replace(policy_with(CHANNELS, PEOPLE), calendars=calendars), public_url=None,
                 secret_key=None, similar=None)  # fmt: skip
    incident_id = open_incident(store, make_outbox())
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    with store.begin() as conn:
        conn.execute(
            insert(sla_clocks).values(
                incident_id=incident_id, clock="response", target_seconds=28800,
                calendar="business", started_at=datetime(2026, 3, 6, 9, tzinfo=UTC),
                due_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
            )
        )  # fmt: skip
        event = record_event(conn, [], incident_id=incident_id, kind="incident.escalated",
                             actor=None, now=saturday, data={"level": 1})  # fmt: skip
        box.page(conn, incident_id=incident_id, event_id=event.id,
                 targets=[Target("person", "carol")], now=saturday)  # fmt: skip
    fields = rows(store, box)[-1].payload["message"]["deadline"]
    assert (fields["remaining_seconds"], fields["business"]) == (7 * 3600, True)
    assert fields["due_local"] == "Mon 2026-03-09 17:00 Asia/Shanghai"

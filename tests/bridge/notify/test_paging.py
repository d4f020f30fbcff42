"""Paging through the whole bridge: an escalation pages a person by mail and chat, links acknowledge."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.bridge.helpers import make_runtime
from tests.bridge.notify.receiver import Receiver, receiving
from tests.bridge.notify.smtpserver import PASSWORD, USER, Mailbox, smtp_server
from tests.bridge.testclient import TestClient
from tocsin.bridge.incidents.serialize import incident_json
from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.ingest.service import ingest
from tocsin.bridge.notify.queue import list_rows
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.platform.config import BridgeConfig, Smtp
from tocsin.bridge.platform.notify_settings import NotifySettings
from tocsin.bridge.policy.load import parse_policy
from tocsin.bridge.runtime import Runtime, build_runtime
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata
from tocsin.bridge.timers.scheduler import Scheduler

POLICY = """
priorities:
  P1: {{name: emergency, response: 15m, update: 2h, resolution: 2h}}
routes:
  - {{priority: P1, escalation: ops}}
channels:
  audit: {{type: webhook, url: "{audit}", events: ["*"]}}
  carol-wecom: {{type: wecom, url: "{wecom}"}}
people:
  carol: {{name: Carol, email: carol@example.com, channels: [carol-wecom]}}
escalation_policies:
  ops:
    steps:
      - {{after: 0m, notify: [person:carol]}}
"""


@dataclass
class Bridge:
    runtime: Runtime
    mailbox: Mailbox
    audit: Receiver
    wecom: Receiver
    worker: DeliveryWorker

    def page_and_deliver(self) -> int:
        incident_id = self.runtime.incidents.create(
            title="订单服务 5xx", priority="P1", actor=None, escalation_policy="ops", host="web-1"
        )
        next(w for w in self.runtime.workers if isinstance(w, Scheduler)).run_once()
        while self.worker.run_once():
            pass
        return incident_id


@pytest.fixture
def bridge(sqlite_url: str, tmp_path: Path) -> Iterator[Bridge]:
    ok = json.dumps({"errcode": 0, "errmsg": "ok"})
    with (
        smtp_server(tmp_path) as (mailbox, port, cafile),
        receiving() as audit,
        receiving(ok) as wecom,
    ):
        policy = parse_policy(POLICY.format(audit=audit.url(), wecom=wecom.url("/send?key=K")))
        smtp = Smtp(host="127.0.0.1", port=port, username=USER, password=PASSWORD, timeout=5)
        config = BridgeConfig(database_url=sqlite_url, secret_key=b"s", smtp=smtp,
                              public_url="https://oncall.example.com")  # fmt: skip
        runtime = make_runtime(sqlite_url, config=config, policy=policy, migrate=False)
        store = runtime.store
        worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
        worker.tls_context = ssl.create_default_context(cafile=str(cafile))
        yield Bridge(runtime, mailbox, audit, wecom, worker)
        store.dispose()


def test_an_escalation_mails_the_person_a_page_with_a_working_ack_link(bridge: Bridge) -> None:
    incident_id = bridge.page_and_deliver()
    (mail,) = bridge.mailbox.messages
    assert mail["Subject"] == "New P1 incident: 订单服务 5xx"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Host: web-1" in text and "Deadline: response due in 15 minutes, at " in text
    ack = text.split("acknowledge in one click <https://oncall.example.com")[1].split(">")[0]
    with TestClient(create_app(bridge.runtime, start_workers=False)) as client:
        assert client.post(ack).status_code == 200
    with bridge.runtime.store.connect() as conn:
        shown = incident_json(conn, incident_id, bridge.runtime.clock())
    assert (shown["status"], shown["acknowledged_by"]) == ("acknowledged", "carol")


def test_an_escalation_messages_the_persons_chat_channel(bridge: Bridge) -> None:
    bridge.page_and_deliver()
    (message,) = bridge.wecom.received
    assert "订单服务 5xx" in message.json["markdown"]["content"]
    assert "/ack/" in message.json["markdown"]["content"]


def test_a_subscription_hears_every_event(bridge: Bridge) -> None:
    bridge.page_and_deliver()
    events = [r.json["event"] for r in bridge.audit.received]
    assert events == ["incident.triggered", "incident.escalated"]
    assert bridge.audit.received[0].json["incident"]["sla"]["response"]["target_seconds"] == 900


def test_a_restarted_bridge_delivers_the_pages_still_pending(sqlite_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = parse_policy(
        POLICY.format(audit=f"http://127.0.0.1:{port}/audit", wecom="http://127.0.0.1:9/w")
    )
    config = BridgeConfig(database_url=sqlite_url, secret_key=b"s",
                          notify=NotifySettings(retry_base=timedelta(seconds=30)))  # fmt: skip
    schema = Store(sqlite_url)
    metadata.create_all(schema.engine)
    schema.dispose()
    first = build_runtime(config, policy=policy)
    first.start()
    first.incidents.create(title="磁盘满", priority="P1", actor=None)
    first.stop()  # the receiver was down the whole time the first bridge ran
    with receiving(port=port) as audit:
        second = build_runtime(config, policy=policy)
        worker = next(w for w in second.workers if isinstance(w, DeliveryWorker))
        # Past the first retry's wait, and past two leases of a row the first bridge held.
        worker.clock = lambda: utcnow() + timedelta(seconds=150)
        second.start()
        try:
            deadline = time.monotonic() + 60  # polled: only a loaded machine waits long
            while not audit.received and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            second.stop()
    assert [r.json["event"] for r in audit.received] == ["incident.triggered"]


def test_the_first_event_and_page_carry_the_incidents_alerts(bridge: Bridge) -> None:
    labels = {"alertname": "HostDiskFull", "instance": "db-1", "severity": "critical"}
    alert = Alert(labels, {"summary": "/var 97%"}, bridge.runtime.clock(), None)
    ingest(bridge.runtime, [alert], "v2")
    while bridge.worker.run_once():
        pass
    first = bridge.audit.received[0].json
    assert first["event"] == "incident.triggered"
    assert [a["labels"]["alertname"] for a in first["incident"]["alerts"]] == ["HostDiskFull"]
    (mail,) = bridge.mailbox.messages
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert mail["Subject"].startswith("New P1 incident: ")
    for line in ("Alert: HostDiskFull", "Host: db-1", "Severity: critical", "Summary: /var 97%"):
        assert line in text


def test_a_page_for_an_incident_acknowledged_before_it_left_is_dropped(bridge: Bridge) -> None:
    incident_id = bridge.runtime.incidents.create(
        title="订单服务 5xx", priority="P1", actor=None, escalation_policy="ops"
    )
    bridge.runtime.incidents.act(incident_id, "ack", actor="carol")
    while bridge.worker.run_once():
        pass
    assert bridge.mailbox.messages == [] and bridge.wecom.received == []
    events = [r.json["event"] for r in bridge.audit.received]  # subscriptions still hear all
    assert events == ["incident.triggered", "incident.escalated", "incident.acknowledged"]
    stale = bridge.worker.metrics.stale.labels(action="dropped", status="acknowledged")
    assert stale._value.get() == 2  # the mail and the WeCom message
    with bridge.runtime.store.connect() as conn:
        assert {r.status for r in list_rows(conn, status="dropped")} == {"dropped"}


def test_with_stale_pages_notice_a_resolved_incident_sends_a_short_notice(bridge: Bridge) -> None:
    bridge.worker.stale_pages = "notice"
    incident_id = bridge.runtime.incidents.create(
        title="订单服务 5xx", priority="P1", actor=None, escalation_policy="ops"
    )
    bridge.runtime.incidents.act(incident_id, "resolve", actor="carol")
    while bridge.worker.run_once():
        pass
    (mail,) = bridge.mailbox.messages
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert mail["Subject"] == "[P1 emergency] Resolved: 订单服务 5xx"
    assert "Event: resolved before this page was sent: nothing to do" in text
    assert "/ack/" not in text

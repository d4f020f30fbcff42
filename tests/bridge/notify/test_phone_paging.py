"""A person paged by sms and voice: the row reaches their number, a vendor error stays visible."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.bridge.helpers import FakeClock
from tests.bridge.notify import phone_vendors as pv
from tests.bridge.notify.conftest import policy_with, rendered
from tests.bridge.notify.sample import NOW
from tests.bridge.notify.test_worker import statuses, worker
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.incidents.service import create_incident
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.phone_ledger import Ledger
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.policy.model import Policy, Target
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import outbox

PEOPLE = "  carol: {name: Carol, phone: '+8613800138000', language: zh-CN, channels: [phone]}"


def phone_policy(vendor: pv.Vendor, kind: str, tmp_path: Path) -> Policy:
    if vendor.kind == "twilio":
        (tmp_path / "token").write_text(pv.TOKEN)
        settings = (f"provider: twilio, account_sid: {pv.SID}, auth_token_file: {tmp_path / 'token'},"
                    f" from: '+15005550006', api_url: '{vendor.url()}'")  # fmt: skip
    elif vendor.kind == "tencent":
        settings = (f"provider: tencent, secret_id: {pv.SECRET_ID}, secret_key: {pv.SECRET_KEY}, "
                    f"sdk_app_id: '1400006666', sign_name: Tocsin, template_id: '449739', "
                    f"url: '{vendor.url('/')}'")  # fmt: skip
    else:
        settings = (f"provider: aliyun, access_key_id: {pv.KEY_ID}, access_key_secret: "
                    f"{pv.KEY_SECRET}, sign_name: Tocsin, template_code: SMS_1, tts_code: TTS_1, "
                    f"sms_url: '{vendor.url('/')}', voice_url: '{vendor.url('/')}'")  # fmt: skip
    return policy_with(f"  phone: {{type: {kind}, {settings}}}", PEOPLE)


def page_carol(store: Store, policy: Policy) -> None:
    box = Outbox(policy, public_url="https://oncall.example.com", secret_key=b"k", similar=None)
    with store.begin() as conn:
        incident = create_incident(conn, [box.hook], now=NOW, title="磁盘满", priority="P1")
        event = record_event(conn, [], incident_id=incident, kind="incident.escalated",
                             actor=None, now=NOW, data={"path": "response", "step": 0})  # fmt: skip
        box.page(conn, incident_id=incident, event_id=event.id,
                 targets=[Target("person", "carol")], now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "provider"), [("voice", "twilio"), ("sms", "aliyun"), ("voice", "tencent")]
)
def test_a_page_reaches_the_persons_phone(
    store: Store, tmp_path: Path, kind: str, provider: str
) -> None:
    with pv.vendor(provider) as vendor:
        policy = phone_policy(vendor, kind, tmp_path)
        page_carol(store, policy)
        assert worker(store, policy, clock=utcnow).run_once() == 1
    (sent,) = vendor.accepted
    number = sent.get("To") or sent.get("PhoneNumbers") or sent.get("CalledNumber") or ""
    assert "+8613800138000".lstrip("+") in number
    assert statuses(store) == [("delivered", 1, None)]


def test_a_vendor_error_is_a_dead_letter_with_the_vendors_code(
    store: Store, tmp_path: Path
) -> None:
    with pv.vendor("aliyun") as vendor:
        vendor.error = (
            200,
            {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid", "RequestId": "r"},
        )
        policy = phone_policy(vendor, "sms", tmp_path)
        page_carol(store, policy)
        worker(store, policy, clock=utcnow).run_once()
    ((status, _, error),) = statuses(store)
    assert status == "dead" and "isv.MOBILE_NUMBER_ILLEGAL" in str(error)
    assert pv.KEY_SECRET not in str(error)


def test_a_call_cut_off_after_acceptance_rings_once_however_often_the_worker_runs(
    store: Store, tmp_path: Path
) -> None:
    with pv.vendor("twilio") as vendor:
        vendor.drop = True
        policy = phone_policy(vendor, "voice", tmp_path)
        page_carol(store, policy)
        busy = worker(store, policy, clock=utcnow)
        for _ in range(3):
            busy.run_once()
    assert len(vendor.accepted) == 1
    ((status, _, error),) = statuses(store)
    assert status == "dead" and "not sent again" in str(error)


@pytest.mark.parametrize(
    ("people", "problem"),
    [
        ("  carol: {name: Carol, phone: '13800138000', channels: [phone]}", "not an E.164 number"),
        ("  carol: {name: Carol, phone: '+86 138 0013 8000', channels: [phone]}", "E.164"),
        ("  carol: {name: Carol, channels: [phone]}", "give them 'phone'"),
    ],
)
def test_check_config_refuses_numbers_that_are_not_e164(people: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        policy_with("  phone: {type: sms, provider: aliyun}", people)


def test_a_phone_channel_names_a_provider_that_serves_it() -> None:
    with pytest.raises(ConfigError, match="not a voice provider"):
        policy_with("  phone: {type: voice, provider: carrier-pigeon}")


def provider_columns(store: Store) -> list[tuple[str, str | None, str | None]]:
    with store.connect() as conn:
        query = select(outbox.c.status, outbox.c.provider_ref, outbox.c.provider_status)
        return [tuple(row) for row in conn.execute(query.order_by(outbox.c.id))]  # type: ignore[misc]


def the_key(store: Store) -> str:
    with store.connect() as conn:
        return str(conn.execute(select(outbox.c.idempotency_key)).scalar_one())


def test_the_providers_id_is_recorded_on_the_row_and_the_send_counted(
    store: Store, tmp_path: Path
) -> None:
    with pv.vendor("twilio") as vendor:
        policy = phone_policy(vendor, "voice", tmp_path)
        page_carol(store, policy)
        busy = worker(store, policy, clock=utcnow)
        busy.run_once()
    assert provider_columns(store) == [("delivered", "CA" + "1".zfill(32), "accepted")]
    sample = {"provider": "twilio", "kind": "voice", "result": "accepted"}
    assert busy.registry.get_sample_value("tocsin_bridge_phone_messages_total", sample) == 1


def test_a_crash_after_acceptance_sends_nothing_twice(store: Store, tmp_path: Path) -> None:
    with pv.vendor("twilio") as vendor:
        policy = phone_policy(vendor, "sms", tmp_path)
        page_carol(store, policy)
        crashed = worker(store, policy, clock=utcnow)
        # The provider accepted, then the worker died before it recorded the delivery.
        with store.connect() as conn:
            (row,) = rendered(conn, Outbox(policy, public_url=None, secret_key=None),
                              queue.list_rows(conn, status="pending"))  # fmt: skip
        crashed.sender(row.channel).deliver(
            Notification(
                key=row.idempotency_key,
                body=row.payload["body"],
                message=Message.from_json(row.payload["message"]),
                to=tuple(row.payload["to"]),
                recipient=row.recipient,
            )  # fmt: skip
        )
        assert worker(store, policy, clock=utcnow).run_once() == 1
    assert len(vendor.accepted) == 1
    assert provider_columns(store) == [("delivered", "SM" + "1".zfill(32), "accepted")]


def test_a_crash_while_asking_the_provider_is_a_dead_letter_not_a_second_text(
    store: Store, tmp_path: Path
) -> None:
    with pv.vendor("twilio") as vendor:
        policy = phone_policy(vendor, "sms", tmp_path)
        page_carol(store, policy)
        Ledger(store).before(the_key(store))  # marked sending; the process died in the request
        worker(store, policy, clock=utcnow).run_once()
    assert not vendor.accepted
    ((status, _, error),) = statuses(store)
    assert status == "dead" and "interrupted" in str(error)


def test_a_refused_send_may_be_retried(store: Store, tmp_path: Path) -> None:
    with pv.vendor("twilio") as vendor:
        vendor.error = (429, {"code": 20429, "message": "Too Many Requests", "status": 429})
        policy = phone_policy(vendor, "sms", tmp_path)
        page_carol(store, policy)
        clock = FakeClock(NOW)
        busy = worker(store, policy, clock=clock)
        busy.run_once()
        assert provider_columns(store) == [("pending", None, None)]
        vendor.error = None
        clock.advance(minutes=2)
        busy.run_once()
    assert len(vendor.accepted) == 1
    assert provider_columns(store)[0][0] == "delivered"

"""Alibaba Cloud and Tencent Cloud pushes: reports update the outbox, "1" acknowledges, forgeries don't."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.bridge.helpers import FakeClock, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.incidents.serialize import get_incident
from tocsin.bridge.notify.phone_ledger import Ledger
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.schema import outbox

TOKEN = "push-token-5f2c"
ALIYUN = ("provider: aliyun, access_key_id: LTAI, access_key_secret: s, sign_name: Tocsin, "
          f"template_code: SMS_1, tts_code: TTS_1, callback_token: {TOKEN}")  # fmt: skip
TENCENT = ("provider: tencent, secret_id: AKID, secret_key: k, sdk_app_id: '1400006666', "
           f"sign_name: Tocsin, template_id: '449739', callback_token: {TOKEN}")  # fmt: skip
POLICY = f"""
priorities:
  P1: {{response: 15m}}
routes: [{{priority: P1, escalation: ops}}]
channels:
  ali-sms: {{type: sms, {ALIYUN}}}
  ali-call: {{type: voice, {ALIYUN}}}
  tx-sms: {{type: sms, {TENCENT}}}
  tx-call: {{type: voice, {TENCENT}}}
people:
  carol: {{name: Carol, phone: '+8613800138000', channels: [ali-sms, ali-call, tx-sms, tx-call]}}
escalation_policies:
  ops:
    steps: [{{after: 0m, notify: [person:carol]}}]
"""
REFS = {
    "ali-sms": "9006{n:08d}^0",
    "ali-call": "116012354148^{n:08d}",
    "tx-sms": "5000:1045{n:03d}",
    "tx-call": "12582bce-403c-11eb-96b8-525400{n:06d}",
}


@pytest.fixture
def runtime(sqlite_url: str) -> Runtime:
    return make_runtime(sqlite_url, FakeClock(), policy=POLICY)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def page(runtime: Runtime) -> int:
    """Open an incident that pages carol, each page accepted by its provider."""
    incident = runtime.incidents.create(title="磁盘满", priority="P1", actor=None,
                                        escalation_policy="ops")  # fmt: skip
    with runtime.store.connect() as conn:
        rows = conn.execute(
            select(outbox.c.idempotency_key, outbox.c.channel).where(
                outbox.c.incident_id == incident
            )
        ).all()
    for key, channel in rows:
        Ledger(runtime.store).accepted(key, REFS[channel].format(n=incident))
    return incident


def provider_status(runtime: Runtime, channel: str, incident: int) -> str | None:
    with runtime.store.connect() as conn:
        query = select(outbox.c.provider_status).where(
            outbox.c.channel == channel, outbox.c.incident_id == incident
        )
        return conn.execute(query).scalar_one()


def acknowledged_by(runtime: Runtime, incident: int) -> str | None:
    with runtime.store.connect() as conn:
        return get_incident(conn, incident).acknowledged_by


def push(client: TestClient, channel: str, what: str, body: Any, token: str = TOKEN):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/phone/{channel}/{what}?token={token}", json=body)


def sms_up(sequence: str, content: str = "1", number: str = "13800138000") -> list[dict[str, Any]]:
    return [{"phone_number": number, "content": content, "send_time": "2026-03-02 09:01:00",
             "dest_code": "1234", "sequence_id": sequence}]  # fmt: skip


def test_an_alibaba_sms_report_records_the_failure(client: TestClient, runtime: Runtime) -> None:
    incident = page(runtime)
    body = [{"phone_number": "13800138000", "send_time": "2026-03-02 09:00:00",
             "report_time": "2026-03-02 09:00:05", "success": False, "err_code": "MK:0001",
             "err_msg": "用户关机", "sms_size": "1", "biz_id": f"9006{incident:08d}^0",
             "out_id": "tocsin-2-ali-sms-carol"}]  # fmt: skip
    answer = push(client, "ali-sms", "report", body)
    assert (answer.status_code, answer.json()) == (200, {"code": 0, "msg": "接收成功"})
    assert provider_status(runtime, "ali-sms", incident) == "failed"


def test_a_tencent_status_report_records_the_delivery(client: TestClient, runtime: Runtime) -> None:
    incident = page(runtime)
    body = [{"user_receive_time": "2026-03-02 09:00:04", "nationcode": "86",
             "mobile": "13800138000", "report_status": "SUCCESS", "errmsg": "DELIVRD",
             "description": "用户短信送达成功", "sid": f"5000:1045{incident:03d}"}]  # fmt: skip
    answer = push(client, "tx-sms", "report", body)
    assert (answer.status_code, answer.json()) == (200, {"result": 0, "errmsg": "OK"})
    assert provider_status(runtime, "tx-sms", incident) == "delivered"


@pytest.mark.parametrize(("code", "status"), [("200003", "no-answer"), ("200002", "busy"),
                                              ("200010", "failed"), ("200000", "completed")])  # fmt: skip
def test_an_alibaba_call_report_records_how_the_call_ended(
    client: TestClient, runtime: Runtime, code: str, status: str
) -> None:
    incident = page(runtime)
    body = [{"status_code": code, "callee": "13800138000", "duration": "0",
             "voice_type": "voice", "call_id": f"116012354148^{incident:08d}",
             "out_id": "k", "status_msg": "—"}]  # fmt: skip
    assert push(client, "ali-call", "report", body).status_code == 200
    assert provider_status(runtime, "ali-call", incident) == status
    assert acknowledged_by(runtime, incident) is None


def test_pressing_1_on_an_alibaba_call_acknowledges_as_the_person_called_once(
    client: TestClient, runtime: Runtime
) -> None:
    incident = page(runtime)
    body = [{"status_code": "200000", "callee": "13800138000", "duration": "12", "dtmf": "1",
             "call_id": f"116012354148^{incident:08d}", "out_id": "k"}]  # fmt: skip
    assert push(client, "ali-call", "report", body).status_code == 200
    assert acknowledged_by(runtime, incident) == "carol"
    assert push(client, "ali-call", "report", body).status_code == 200  # the vendor retries


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_reply_of_1_acknowledges_the_latest_page_once(
    client: TestClient, runtime: Runtime, provider: str
) -> None:
    first, second = page(runtime), page(runtime)
    if provider == "aliyun":
        channel, body = "ali-sms", sms_up("1234567890")
    else:
        channel, body = "tx-sms", {"extend": "", "mobile": "13800138000", "nationcode": "86",
                                   "sign": "Tocsin", "text": "1", "time": 1772413260}  # fmt: skip
    assert push(client, channel, "reply", body).status_code == 200
    assert (acknowledged_by(runtime, first), acknowledged_by(runtime, second)) == (None, "carol")
    assert push(client, channel, "reply", body).status_code == 200  # replayed: spent
    assert acknowledged_by(runtime, first) is None
    replayed = runtime.metrics.registry.get_sample_value(
        "tocsin_bridge_phone_callbacks_total",
        {"provider": provider, "kind": "reply", "result": "replayed"},
    )
    assert replayed == 1


@pytest.mark.parametrize(("content", "number"), [("ok", "13800138000"), ("1", "13900139000")])
def test_other_text_or_a_strangers_number_changes_nothing(
    client: TestClient, runtime: Runtime, content: str, number: str
) -> None:
    incident = page(runtime)
    assert push(client, "ali-sms", "reply", sms_up("77", content, number)).status_code == 200
    assert acknowledged_by(runtime, incident) is None


@pytest.mark.parametrize("token", ["", "guess", TOKEN + "x"])
def test_a_push_without_the_channels_token_changes_nothing_and_is_counted(
    client: TestClient, runtime: Runtime, token: str
) -> None:
    incident = page(runtime)
    answer = push(client, "ali-sms", "reply", sms_up("1"), token=token)
    assert answer.status_code == 403 and answer.json()["field"] == "token"
    assert TOKEN not in answer.text
    assert acknowledged_by(runtime, incident) is None
    refused = runtime.metrics.registry.get_sample_value(
        "tocsin_bridge_phone_callbacks_total",
        {"provider": "aliyun", "kind": "reply", "result": "refused"},
    )
    assert refused == 1


def test_a_malformed_push_is_refused_naming_the_field(client: TestClient, runtime: Runtime) -> None:
    answer = push(client, "tx-sms", "report", [{"report_status": "SUCCESS"}])
    assert answer.status_code == 422 and answer.json()["field"] == "sid"


def tencent_call(incident: int, **event: dict[str, str]) -> dict[str, Any]:
    callid = f"12582bce-403c-11eb-96b8-525400{incident:06d}"
    return {name: {"callid": callid, "mobile": "13800138000", "nationcode": "86",
                   "call_from": "", **fields} for name, fields in event.items()}  # fmt: skip


@pytest.mark.parametrize(("result", "status"), [("0", "completed"), ("1", "no-answer"),
                                                ("2", "failed")])  # fmt: skip
def test_a_tencent_call_status_records_how_the_call_ended(
    client: TestClient, runtime: Runtime, result: str, status: str
) -> None:
    incident = page(runtime)
    body = tencent_call(incident, voiceprompt_callback={
        "result": result, "accept_time": "1470197211", "end_calltime": "1470197221",
        "fee": "1", "start_calltime": "1470197196"})  # fmt: skip
    answer = push(client, "tx-call", "report", body)
    assert (answer.status_code, answer.json()) == (200, {"result": 0, "errmsg": "OK"})
    assert provider_status(runtime, "tx-call", incident) == status


@pytest.mark.parametrize(("key", "who"), [("1", "carol"), ("2", None)])
def test_pressing_1_on_a_tencent_call_acknowledges_as_the_person_called(
    client: TestClient, runtime: Runtime, key: str, who: str | None
) -> None:
    incident = page(runtime)
    body = tencent_call(incident, voicekey_callback={"keypress": key})
    assert push(client, "tx-call", "report", body).status_code == 200
    assert acknowledged_by(runtime, incident) == who

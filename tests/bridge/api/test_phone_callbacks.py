"""Press 1 and SMS replies acknowledge as the person, through the real app; forgeries change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge.helpers import OPERATOR, FakeClock, bearer, make_runtime
from tests.bridge.notify import phone_vendors as pv
from tests.bridge.notify.sample import NOW
from tests.bridge.notify.test_phone_paging import page_carol
from tests.bridge.testclient import TestClient
from tocsin.bridge.incidents.serialize import get_incident
from tocsin.bridge.incidents.service import create_incident
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.channels.phone import ack_code
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app

TOKEN = pv.TOKEN
PUBLIC = "https://oncall.example.com"
CAROL = "+8613800138000"


def policy(token_file: Path) -> str:
    twilio = (f"provider: twilio, account_sid: AC0, auth_token_file: {token_file}, "
              f"from: '+15005550006', callback_url: '{PUBLIC}'")  # fmt: skip
    return (
        "priorities:\n  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}\n"
        "routes:\n  - {priority: P1}\n"
        f"channels:\n  call: {{type: voice, {twilio}}}\n  text: {{type: sms, {twilio}}}\n"
        f"people:\n  carol: {{name: Carol, phone: '{CAROL}', language: zh-CN, channels: [call, text]}}\n"
        "  dave: {name: Dave, phone: '+8613900139000'}\n"
    )


@pytest.fixture
def runtime(sqlite_url: str, tmp_path: Path) -> Runtime:
    (tmp_path / "token").write_text(TOKEN + "\n")
    return make_runtime(sqlite_url, FakeClock(), policy=policy(tmp_path / "token"))


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def incident(runtime: Runtime) -> int:
    with runtime.store.begin() as conn:
        return create_incident(conn, [], now=runtime.clock(), title="磁盘满", priority="P1")


def twilio_signature(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    """Sign as Twilio documents: HMAC-SHA1 of the URL and each sorted name+value, base64."""
    data = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def post(client: TestClient, path: str, form: dict[str, str], signature: str | None = None):  # type: ignore[no-untyped-def]
    signed = signature if signature is not None else twilio_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signed})


def state(runtime: Runtime, incident: int) -> tuple[str, str | None]:
    with runtime.store.connect() as conn:
        row = get_incident(conn, incident)
    return row.status, row.acknowledged_by


def refused(runtime: Runtime, kind: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "tocsin_bridge_phone_callbacks_total",
        {"provider": "twilio", "kind": kind, "result": "refused"},
    )
    return value or 0.0


def press(digit: str, incident: int, sid: str = "CA" + "1" * 32) -> tuple[str, dict[str, str]]:
    path = f"/api/v1/phone/call/voice?incident={incident}&person=carol"
    return path, {"CallSid": sid, "Digits": digit, "To": CAROL, "AccountSid": "AC0"}


def test_pressing_1_acknowledges_as_the_person_called(
    client: TestClient, runtime: Runtime, incident: int
) -> None:
    answer = post(client, *press("1", incident))
    assert answer.status_code == 200 and "已确认事件" in answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    assert state(runtime, incident) == ("acknowledged", "carol")


def test_another_key_changes_nothing(client: TestClient, runtime: Runtime, incident: int) -> None:
    assert post(client, *press("2", incident)).status_code == 200
    assert state(runtime, incident) == ("triggered", None)


@pytest.mark.parametrize("forgery", ["bad-signature", "wrong-token", "changed-person", "none"])
def test_a_forged_press_changes_nothing_and_is_counted(
    client: TestClient, runtime: Runtime, incident: int, forgery: str
) -> None:
    path, form = press("1", incident)
    signature = {
        "bad-signature": "AAAA",
        "wrong-token": twilio_signature(PUBLIC + path, form, token="guess"),
        "changed-person": twilio_signature(PUBLIC + path, form),
        "none": "",
    }[forgery]
    if forgery == "changed-person":
        path = path.replace("person=carol", "person=dave")
    answer = post(client, path, form, signature)
    assert answer.status_code == 403 and answer.json()["field"] == "X-Twilio-Signature"
    assert TOKEN not in answer.text
    assert state(runtime, incident) == ("triggered", None)
    assert refused(runtime, "voice") == 1


def test_a_replayed_press_is_refused(client: TestClient, runtime: Runtime, incident: int) -> None:
    assert post(client, *press("1", incident)).status_code == 200
    again = post(client, *press("1", incident))
    assert again.status_code == 409 and "nothing changed" in again.text


def test_an_sms_reply_with_the_code_acknowledges_as_the_sender(
    client: TestClient, runtime: Runtime, incident: int
) -> None:
    form = {
        "MessageSid": "SM" + "2" * 32,
        "From": CAROL,
        "Body": f"ok {ack_code(TOKEN, incident, 'carol')}",
    }
    answer = post(client, "/api/v1/phone/text/sms", form)
    assert answer.status_code == 200 and "<Message>已确认事件" in answer.text
    assert state(runtime, incident) == ("acknowledged", "carol")


def test_an_sms_reply_with_another_persons_code_changes_nothing(
    client: TestClient, runtime: Runtime, incident: int
) -> None:
    form = {"MessageSid": "SM" + "3" * 32, "From": "+8613900139000",
            "Body": ack_code(TOKEN, incident, "carol")}  # fmt: skip
    answer = post(client, "/api/v1/phone/text/sms", form)
    assert answer.status_code == 200 and "No open incident" in answer.text
    assert state(runtime, incident) == ("triggered", None)


def test_an_sms_from_an_unknown_number_is_refused_naming_the_field(
    client: TestClient, runtime: Runtime, incident: int
) -> None:
    form = {"MessageSid": "SM" + "4" * 32, "From": "+15550000000", "Body": "1"}
    answer = post(client, "/api/v1/phone/text/sms", form)
    assert answer.status_code == 422 and answer.json()["field"] == "From"


def test_a_forged_sms_reply_changes_nothing(
    client: TestClient, runtime: Runtime, incident: int
) -> None:
    form = {
        "MessageSid": "SM" + "5" * 32,
        "From": CAROL,
        "Body": ack_code(TOKEN, incident, "carol"),
    }
    answer = post(client, "/api/v1/phone/text/sms", form, signature=twilio_signature(PUBLIC, form))
    assert answer.status_code == 403
    assert state(runtime, incident) == ("triggered", None) and refused(runtime, "sms") == 1


def paged_runtime(sqlite_url: str, tmp_path: Path) -> tuple[Runtime, pv.Vendor]:
    """Page carol by call and text through a local Twilio; return the runtime and the vendor."""
    (tmp_path / "token").write_text(pv.TOKEN)
    with pv.vendor("twilio") as vendor:
        text = policy(tmp_path / "token").replace(
            "account_sid: AC0", f"account_sid: {pv.SID}, api_url: '{vendor.url()}'"
        )
        runtime = make_runtime(sqlite_url, FakeClock(NOW), policy=text)
        page_carol(runtime.store, runtime.policy)
        worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
        assert worker.run_once() == 2  # her call and her text
    return runtime, vendor


def test_a_p1_rings_the_person_who_presses_1_through_the_calls_own_action_url(
    sqlite_url: str, tmp_path: Path
) -> None:
    runtime, vendor = paged_runtime(sqlite_url, tmp_path)
    (call,) = [sent for sent in vendor.accepted if "Twiml" in sent]
    action = html.unescape(re.search(r'action="([^"]+)"', call["Twiml"]).group(1))  # type: ignore[union-attr]
    path = action.removeprefix(PUBLIC)
    form = {"CallSid": "CA" + "9" * 32, "Digits": "1", "To": CAROL, "AccountSid": pv.SID}
    with TestClient(create_app(runtime, start_workers=False)) as client:
        answer = client.post(
            path,
            data=form,
            headers={"X-Twilio-Signature": twilio_signature(action, form, pv.TOKEN)},
        )
    assert answer.status_code == 200
    with runtime.store.connect() as conn:
        assert get_incident(conn, 1).acknowledged_by == "carol"


@pytest.mark.parametrize(
    ("field", "value"), [("CallStatus", "no-answer"), ("MessageStatus", "delivered")]
)
def test_a_status_callback_updates_the_outbox_entry(
    sqlite_url: str, tmp_path: Path, field: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, _ = paged_runtime(sqlite_url, tmp_path)
    channel = "call" if field == "CallStatus" else "text"
    with runtime.store.connect() as conn:
        (sid,) = [
            row.provider_ref for row in queue.list_rows(conn, status=None) if row.channel == channel
        ]
    path = f"/api/v1/phone/{channel}/status"
    form = {("CallSid" if field == "CallStatus" else "MessageSid"): sid, field: value}
    forged = {**form, field: "delivered" if value != "delivered" else "failed"}
    with TestClient(create_app(runtime, start_workers=False)) as client:
        signed = {"X-Twilio-Signature": twilio_signature(PUBLIC + path, form, pv.TOKEN)}
        assert client.post(path, data=forged, headers=signed).status_code == 403
        assert client.post(path, data=form, headers=signed).status_code == 204
        entries = client.get("/api/v1/outbox", headers=bearer(OPERATOR)).json()
    (entry,) = [e for e in entries["entries"] if e["provider_ref"] == sid]
    assert (entry["status"], entry["provider_status"]) == ("delivered", value)
    unreached = [r.getMessage() for r in caplog.records if "no-answer" in r.getMessage()]
    assert len(unreached) == (value == "no-answer")  # a person not reached leaves a WARNING

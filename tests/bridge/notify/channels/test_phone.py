"""SMS and voice through Twilio and Alibaba Cloud, against local vendors that check signatures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.bridge.notify import phone_vendors as pv
from tests.bridge.notify.sample import notification
from tocsin.bridge.errors import DeliveryFailed, DeliveryRefused, DeliveryUncertain
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.phone import PhonePage, ack_code, read_code, sms_text
from tocsin.bridge.notify.senders import build_sender
from tocsin.bridge.policy.model import Channel

PHONE = "+8613800138000"


def paged(language: str = "zh-CN", title: str | None = None) -> Notification:
    page = notification(language=language)
    message = replace(page.message, title=title) if title else page.message
    return Notification(key="tocsin-7-phone-carol", body=page.body, message=message,
                        to=(PHONE,), recipient="carol")  # fmt: skip


def twilio(kind: str, url: str, tmp_path: Path, secret: str = pv.TOKEN) -> object:
    token = tmp_path / "twilio.token"
    token.write_text(secret + "\n")
    settings = {"provider": "twilio", "account_sid": pv.SID, "auth_token_file": str(token),
                "from": "+15005550006", "api_url": url,
                "callback_url": "https://oncall.example.com"}  # fmt: skip
    return build_sender(Channel("phone", kind, settings), timeout=2)


def aliyun(kind: str, url: str, secret: str = pv.KEY_SECRET) -> object:
    settings = {"provider": "aliyun", "access_key_id": pv.KEY_ID, "access_key_secret": secret,
                "sign_name": "Tocsin", "template_code": "SMS_1234", "tts_code": "TTS_5678",
                "sms_url": url, "voice_url": url}  # fmt: skip
    return build_sender(Channel("phone", kind, settings), timeout=2)


def test_twilio_sms_carries_the_reply_code_and_fits_one_message(tmp_path: Path) -> None:
    with pv.vendor("twilio") as vendor:
        twilio("sms", vendor.url(), tmp_path).deliver(paged())  # type: ignore[attr-defined]
    (sent,) = vendor.accepted
    assert sent["To"] == PHONE and sent["From"] == "+15005550006"
    assert ack_code(pv.TOKEN, 42, "carol") in sent["Body"] and "回复" in sent["Body"]
    assert len(sent["Body"]) <= 70
    assert sent["StatusCallback"] == "https://oncall.example.com/api/v1/phone/phone/status"


def test_twilio_call_says_the_page_in_the_persons_language_and_gathers_one_key(
    tmp_path: Path,
) -> None:
    with pv.vendor("twilio") as vendor:
        twilio("voice", vendor.url(), tmp_path).deliver(  # type: ignore[attr-defined]
            paged(title="<Hangup/> & 磁盘满")
        )
    twiml = vendor.accepted[0]["Twiml"]
    assert (
        '<Gather action="https://oncall.example.com/api/v1/phone/phone/voice?incident=42&amp;person=carol"'
        in twiml
    )
    assert 'numDigits="1"' in twiml and '<Say language="zh-CN" loop="2">' in twiml
    assert "确认请按 1" in twiml
    assert "<Hangup/>" not in twiml  # alert text is data, never markup


def test_twilio_error_is_a_failure_naming_its_code_and_never_the_token(tmp_path: Path) -> None:
    with pv.vendor("twilio") as vendor:
        vendor.error = (
            400,
            {"code": 21211, "message": "The 'To' number is not valid.", "status": 400},
        )
        with pytest.raises(DeliveryRefused) as caught:
            twilio("sms", vendor.url(), tmp_path).deliver(paged())  # type: ignore[attr-defined]
    assert "21211" in caught.value.message and pv.TOKEN not in caught.value.message


def test_twilio_refuses_wrong_credentials(tmp_path: Path) -> None:
    with pv.vendor("twilio") as vendor:
        sender = twilio("sms", vendor.url(), tmp_path, secret="wrong-token")
        with pytest.raises(DeliveryRefused, match="20003") as caught:
            sender.deliver(paged())  # type: ignore[attr-defined]
    assert "wrong-token" not in caught.value.message
    assert vendor.refused == ["Authenticate"] and not vendor.accepted


@pytest.mark.parametrize("kind", ["sms", "voice"])
def test_a_call_accepted_then_cut_off_is_not_sent_again(tmp_path: Path, kind: str) -> None:
    with pv.vendor("twilio") as vendor:
        vendor.drop = True
        with pytest.raises(DeliveryUncertain, match="not sent again"):
            twilio(kind, vendor.url(), tmp_path).deliver(paged())  # type: ignore[attr-defined]
    assert len(vendor.accepted) == 1


def test_a_provider_that_cannot_be_reached_is_retried(tmp_path: Path) -> None:
    with pv.vendor("twilio") as vendor:
        url = vendor.url()
    with pytest.raises(DeliveryFailed) as caught:
        twilio("sms", url, tmp_path).deliver(paged())  # type: ignore[attr-defined]
    assert not isinstance(caught.value, DeliveryRefused)


def test_aliyun_sms_is_signed_as_the_rpc_signature_documents() -> None:
    with pv.vendor("aliyun") as vendor:
        aliyun("sms", vendor.url("/")).deliver(paged())  # type: ignore[attr-defined]
        aliyun("sms", vendor.url("/")).deliver(paged())  # type: ignore[attr-defined]
    sent = vendor.accepted[0]
    assert sent["Action"] == "SendSms" and sent["PhoneNumbers"] == "8613800138000"
    assert sent["SignName"] == "Tocsin" and sent["TemplateCode"] == "SMS_1234"
    assert json.loads(sent["TemplateParam"]) == {"priority": "P1", "id": "42",
                                                 "title": "磁盘空间不足 on db-1"}  # fmt: skip
    assert sent["OutId"] == "tocsin-7-phone-carol" and not vendor.refused


def test_aliyun_voice_calls_a_mainland_number_by_tts_template() -> None:
    with pv.vendor("aliyun") as vendor:
        aliyun("voice", vendor.url("/")).deliver(paged())  # type: ignore[attr-defined]
    sent = vendor.accepted[0]
    assert sent["Action"] == "SingleCallByTts" and sent["CalledNumber"] == "13800138000"
    assert sent["TtsCode"] == "TTS_5678" and sent["PlayTimes"] == "2"


def test_aliyun_wrong_secret_fails_the_signature_check() -> None:
    with pv.vendor("aliyun") as vendor:
        with pytest.raises(DeliveryRefused, match="SignatureDoesNotMatch") as caught:
            aliyun("sms", vendor.url("/"), secret="guess").deliver(paged())  # type: ignore[attr-defined]
    assert "guess" not in caught.value.message and not vendor.accepted


@pytest.mark.parametrize(
    ("code", "retried"),
    [("isv.MOBILE_NUMBER_ILLEGAL", False), ("isv.BUSINESS_LIMIT_CONTROL", True)],
)
def test_aliyun_error_code_is_a_failure_retried_only_when_it_may_pass(
    code: str, retried: bool
) -> None:
    with pv.vendor("aliyun") as vendor:
        vendor.error = (200, {"Code": code, "Message": "refused", "RequestId": "r"})
        with pytest.raises(DeliveryFailed, match=code.replace(".", r"\.")) as caught:
            aliyun("sms", vendor.url("/")).deliver(paged())  # type: ignore[attr-defined]
    assert isinstance(caught.value, DeliveryRefused) is not retried


def test_reply_code_acknowledges_only_its_incident_for_its_person() -> None:
    code = ack_code("secret", 42, "carol")
    assert read_code("secret", f"ok {code} thanks", "carol") == 42
    assert read_code("secret", code, "dave") is None
    assert read_code("secret", "420000", "carol") is None or code == "420000"


@pytest.mark.parametrize(("language", "limit"), [("en", 160), ("zh-CN", 70)])
def test_sms_text_fits_one_message_however_long_the_title(language: str, limit: int) -> None:
    page = PhonePage(to=PHONE, key="k", incident_id=12345, priority="P1", title="x" * 500,
                     host="db-1", language=language, person="carol")  # fmt: skip
    text = sms_text(page, ack_code("s", 12345, "carol"))
    assert len(text) <= limit and text.endswith(
        ack_code("s", 12345, "carol") + (" to acknowledge" if language == "en" else " 确认")
    )


def tencent(url: str, secret: str = pv.SECRET_KEY, kind: str = "sms") -> object:
    settings = {"provider": "tencent", "secret_id": pv.SECRET_ID, "secret_key": secret,
                "sdk_app_id": "1400006666", "sign_name": "Tocsin", "template_id": "449739",
                "url": url}  # fmt: skip
    return build_sender(Channel("phone", kind, settings), timeout=2)


def test_tencent_sms_is_signed_with_tc3_hmac_sha256() -> None:
    with pv.vendor("tencent") as vendor:
        tencent(vendor.url("/")).deliver(paged())  # type: ignore[attr-defined]
    (sent,) = vendor.accepted
    assert sent["PhoneNumberSet"] == [PHONE] and sent["TemplateId"] == "449739"
    assert sent["TemplateParamSet"] == ["P1", "42", "磁盘空间不足 on db-1"]
    assert sent["SessionContext"] == "tocsin-7-phone-carol" and not vendor.refused


def test_tencent_wrong_secret_fails_the_signature_check() -> None:
    with pv.vendor("tencent") as vendor:
        with pytest.raises(DeliveryRefused, match="AuthFailure.SignatureFailure") as caught:
            tencent(vendor.url("/"), secret="guess").deliver(paged())  # type: ignore[attr-defined]
    assert "guess" not in caught.value.message and not vendor.accepted


@pytest.mark.parametrize(
    ("code", "retried"),
    [
        ("LimitExceeded.PhoneNumberDailyLimit", True),
        ("InvalidParameterValue.IncorrectPhoneNumber", False),
    ],
)
def test_tencent_number_status_code_is_a_failure_naming_it(code: str, retried: bool) -> None:
    with pv.vendor("tencent") as vendor:
        vendor.error = (200, {"Response": {"RequestId": "r", "SendStatusSet": [
            {"SerialNo": "", "PhoneNumber": PHONE, "Fee": 0, "Code": code, "Message": "no"}]}})  # fmt: skip
        with pytest.raises(DeliveryFailed, match=code.replace(".", r"\.")) as caught:
            tencent(vendor.url("/")).deliver(paged())  # type: ignore[attr-defined]
    assert isinstance(caught.value, DeliveryRefused) is not retried


def test_tencent_voice_calls_with_send_tts_voice_signed_for_vms() -> None:
    with pv.vendor("tencent") as vendor:
        tencent(vendor.url("/"), kind="voice").deliver(paged())  # type: ignore[attr-defined]
    (sent,) = vendor.accepted
    assert (sent["CalledNumber"], sent["VoiceSdkAppid"], sent["TemplateId"]) == (
        PHONE, "1400006666", "449739"
    )  # fmt: skip
    assert sent["TemplateParamSet"] == ["P1", "42", "磁盘空间不足 on db-1"]
    assert sent["PlayTimes"] == 2 and not vendor.refused


@pytest.mark.parametrize(
    ("code", "retried"),
    [("LimitExceeded", True), ("FailedOperation.TemplateIncorrectOrUnapproved", False)],
)
def test_a_tencent_voice_error_is_a_failure_naming_its_code(code: str, retried: bool) -> None:
    with pv.vendor("tencent") as vendor:
        vendor.error = (200, {"Response": {"Error": {"Code": code, "Message": "no"},
                                           "RequestId": "r"}})  # fmt: skip
        with pytest.raises(DeliveryFailed, match=code.replace(".", r"\.")) as caught:
            tencent(vendor.url("/"), kind="voice").deliver(paged())  # type: ignore[attr-defined]
    assert isinstance(caught.value, DeliveryRefused) is not retried

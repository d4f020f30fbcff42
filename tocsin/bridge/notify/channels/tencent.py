"""Tencent Cloud: SMS with `SendSms` (2021-01-11), voice with VMS `SendTtsVoice` (2020-09-02).

Both are signed with TC3-HMAC-SHA256 by hand, as Tencent Cloud's "Signature v3" says: a
canonical request over the JSON body and the content-type and host headers, hashed into a
string to sign under the credential scope DATE/SERVICE/tc3_request (SERVICE: sms or vms), and
signed with a key derived from "TC3" + SecretKey, the date, the service and "tc3_request". The
template's variables are, in order, priority, id and title.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from tocsin.bridge.errors import DeliveryFailed
from tocsin.bridge.notify.channels.http import USER_AGENT
from tocsin.bridge.notify.channels.phone import (
    HttpProvider,
    PhonePage,
    reply_json,
    transport_failure,
    vendor_error,
)

CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Api:
    """One Tencent Cloud API this provider calls: its endpoint, service, action and version."""

    url: str
    service: str
    action: str
    version: str
    title_limit: int  # characters of the title in the template's variable


APIS = {
    "sms": Api("https://sms.tencentcloudapi.com/", "sms", "SendSms", "2021-01-11", 20),
    # A voice message may say 350 characters in all; the title is the variable part of it.
    "voice": Api("https://vms.tencentcloudapi.com/", "vms", "SendTtsVoice", "2020-09-02", 100),
}
RETRY_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ResourceUnavailable")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_authorization(
    secret_id: str, secret_key: str, *, host: str, body: bytes, timestamp: int, service: str
) -> str:
    """Return the Authorization header of a POST of `body` to `service` at `host`, `timestamp`."""
    date = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
    canonical = "\n".join([
        "POST", "/", "", f"content-type:{CONTENT_TYPE}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(body).hexdigest(),
    ])  # fmt: skip
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])  # fmt: skip
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}")  # fmt: skip


class TencentProvider(HttpProvider):
    """Posts signed SendSms or SendTtsVoice requests and reads the id of the accepted page."""

    name = "tencent"
    vendor = "Tencent Cloud"
    credentials = ("secret_id", "secret_key")

    def send(self, kind: str, page: PhonePage) -> str:
        """Text or call the page's number; return the SMS's SerialNo or the call's CallId."""
        api = APIS[kind]
        params = [page.priority, str(page.incident_id), page.title[: api.title_limit]]
        request: dict[str, Any]
        if kind == "sms":
            request = {"PhoneNumberSet": [page.to], "SmsSdkAppId": self.setting("sdk_app_id"),
                       "SignName": self.setting("sign_name"),
                       "TemplateId": self.setting("template_id"), "TemplateParamSet": params,
                       "SessionContext": page.key}  # fmt: skip
        else:
            request = {"CalledNumber": page.to, "VoiceSdkAppid": self.setting("sdk_app_id"),
                       "TemplateId": self.setting("template_id"), "TemplateParamSet": params,
                       "PlayTimes": 2, "SessionContext": page.key}  # fmt: skip
        answer = self._post(api, request, page.key)
        error = answer.get("Error")
        if error:
            raise self._refused(str(error.get("Code")), str(error.get("Message", "")))
        if kind == "voice":
            call = answer.get("SendStatus") or {}
            if not call.get("CallId"):
                raise DeliveryFailed(f"{self.name}: the reply has no SendStatus.CallId")
            return str(call["CallId"])
        statuses = answer.get("SendStatusSet") or []
        if not statuses:
            raise DeliveryFailed(f"{self.name}: the reply has no SendStatusSet")
        status = statuses[0]
        if status.get("Code") != "Ok":
            raise self._refused(str(status.get("Code")), str(status.get("Message", "")))
        return str(status.get("SerialNo", ""))

    def _post(self, api: Api, request: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        """Sign and post a request; return the reply's Response object."""
        body = json.dumps(request, ensure_ascii=False).encode("utf-8")
        url = str(self.settings.get("url") or api.url)
        timestamp = int(self.clock().timestamp())
        authorization = tc3_authorization(self.key_id, self.secret, host=urlsplit(url).netloc,
                                          body=body, timestamp=timestamp, service=api.service)  # fmt: skip
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            "X-TC-Action": api.action,
            "X-TC-Version": api.version,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": str(self.settings.get("region") or "ap-guangzhou"),
            "Authorization": authorization,
        }
        try:
            response = self.session.post(url, data=body, headers=headers,
                                         timeout=self.timeout, allow_redirects=False)  # fmt: skip
        except requests.RequestException as exc:
            raise transport_failure(self.name, exc, key) from exc
        answer = reply_json(self.name, response).get("Response")
        return answer if isinstance(answer, Mapping) else {}

    def _refused(self, code: str, message: str) -> DeliveryFailed:
        return vendor_error(self.name, code, message, retry=code.startswith(RETRY_PREFIXES))

"""Tencent Cloud SMS: `SendSms` (API 2021-01-11), signed with TC3-HMAC-SHA256 by hand.

The signature follows Tencent Cloud's "Signature v3": a canonical request over the JSON body
and the content-type and host headers, hashed into a string to sign under the credential scope
DATE/sms/tc3_request, and signed with a key derived from "TC3" + SecretKey, the date, the
service and "tc3_request". The template's variables are, in order, priority, id and title.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
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

URL = "https://sms.tencentcloudapi.com/"
VERSION = "2021-01-11"
SERVICE = "sms"
CONTENT_TYPE = "application/json; charset=utf-8"
TITLE_LIMIT = 20  # a template variable is short; keep the title readable within it
RETRY_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ResourceUnavailable")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_authorization(
    secret_id: str, secret_key: str, *, host: str, body: bytes, timestamp: int
) -> str:
    """Return the Authorization header of a POST of `body` to `host` at `timestamp`."""
    date = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
    canonical = "\n".join([
        "POST", "/", "", f"content-type:{CONTENT_TYPE}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(body).hexdigest(),
    ])  # fmt: skip
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])  # fmt: skip
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), SERVICE), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}")  # fmt: skip


class TencentProvider(HttpProvider):
    """Posts signed SendSms requests; success is the number's SendStatus code "Ok"."""

    name = "tencent"
    vendor = "Tencent Cloud SMS"
    credentials = ("secret_id", "secret_key")

    def send(self, kind: str, page: PhonePage) -> str:
        """Call SendSms for the page's number; return the message's SerialNo."""
        request = {
            "PhoneNumberSet": [page.to],
            "SmsSdkAppId": self.setting("sdk_app_id"),
            "SignName": self.setting("sign_name"),
            "TemplateId": self.setting("template_id"),
            "TemplateParamSet": [page.priority, str(page.incident_id), page.title[:TITLE_LIMIT]],
            "SessionContext": page.key,
        }
        body = json.dumps(request, ensure_ascii=False).encode("utf-8")
        url = str(self.settings.get("url") or URL)
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            "X-TC-Action": "SendSms",
            "X-TC-Version": VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": str(self.settings.get("region") or "ap-guangzhou"),
            "Authorization": tc3_authorization(
                self.key_id,
                self.secret,
                host=urlsplit(url).netloc,
                body=body,
                timestamp=timestamp,
            ),  # fmt: skip
        }
        try:
            response = self.session.post(url, data=body, headers=headers,
                                         timeout=self.timeout, allow_redirects=False)  # fmt: skip
        except requests.RequestException as exc:
            raise transport_failure(self.name, exc, page.key) from exc
        answer = reply_json(self.name, response).get("Response") or {}
        error = answer.get("Error")
        if error:
            raise self._refused(str(error.get("Code")), str(error.get("Message", "")))
        statuses = answer.get("SendStatusSet") or []
        if not statuses:
            raise DeliveryFailed(f"{self.name}: the reply has no SendStatusSet")
        status = statuses[0]
        if status.get("Code") != "Ok":
            raise self._refused(str(status.get("Code")), str(status.get("Message", "")))
        return str(status.get("SerialNo", ""))

    def _refused(self, code: str, message: str) -> DeliveryFailed:
        return vendor_error(self.name, code, message, retry=code.startswith(RETRY_PREFIXES))

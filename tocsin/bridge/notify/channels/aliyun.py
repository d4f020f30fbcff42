"""Alibaba Cloud: SMS with Dysmsapi `SendSms`, voice with Dyvmsapi `SingleCallByTts`, RPC-signed.

Both APIs take a template registered in the console; the page fills its variables `priority`,
`id` and `title` (clipped to the 35 characters a variable may hold). The request is signed as
the RPC signature document says: the parameters sorted, percent-encoded (RFC 3986), joined,
and signed with HMAC-SHA1 under "POST&%2F&" with the AccessKey secret and "&" as key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from tocsin.bridge.notify.channels.http import USER_AGENT
from tocsin.bridge.notify.channels.phone import (
    HttpProvider,
    PhonePage,
    reply_json,
    transport_failure,
    vendor_error,
)

SMS_URL = "https://dysmsapi.aliyuncs.com/"
VOICE_URL = "https://dyvmsapi.aliyuncs.com/"
VERSION = "2017-05-25"  # of both Dysmsapi and Dyvmsapi
VARIABLE_LIMIT = 35
# Codes that may pass later (flow control, the service busy); any other code will not.
RETRY_CODES = ("isv.BUSINESS_LIMIT_CONTROL", "Throttling", "ServiceUnavailable", "InternalError")


def percent(value: str) -> str:
    """Return the RFC 3986 encoding the signature uses (space %20, '~' kept, '*' encoded)."""
    return quote(value, safe="~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Return METHOD&%2F&percent(canonicalized query), the parameters sorted by name."""
    query = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    return f"{method}&{percent('/')}&{percent(query)}"


def rpc_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Return base64(HMAC-SHA1(secret + "&", StringToSign))."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


class AliyunProvider(HttpProvider):
    """Posts signed RPC requests (form-encoded) to the SMS and voice endpoints."""

    name = "aliyun"
    vendor = "Alibaba Cloud"
    credentials = ("access_key_id", "access_key_secret")
    nonce: Callable[[], str] = staticmethod(lambda: uuid.uuid4().hex)  # SignatureNonce, unique

    def send(self, kind: str, page: PhonePage) -> str:
        """Call SendSms or SingleCallByTts; return the BizId or CallId."""
        variables = json.dumps(
            {"priority": page.priority, "id": str(page.incident_id),
             "title": page.title[:VARIABLE_LIMIT]}, ensure_ascii=False)  # fmt: skip
        if kind == "sms":
            url = str(self.settings.get("sms_url") or SMS_URL)
            params = {"Action": "SendSms", "PhoneNumbers": page.to.lstrip("+"),
                      "SignName": self.setting("sign_name"),
                      "TemplateCode": self.setting("template_code"),
                      "TemplateParam": variables, "OutId": page.key}  # fmt: skip
            reply_id = "BizId"
        else:
            url = str(self.settings.get("voice_url") or VOICE_URL)
            # Voice notification reaches mainland China numbers only, given without +86.
            params = {"Action": "SingleCallByTts", "CalledNumber": page.to.removeprefix("+86"),
                      "TtsCode": self.setting("tts_code"), "TtsParam": variables,
                      "PlayTimes": "2", "OutId": page.key}  # fmt: skip
            if self.settings.get("called_show_number"):
                params["CalledShowNumber"] = str(self.settings["called_show_number"])
            reply_id = "CallId"
        data = self._post(url, params, page.key)
        if data.get("Code") != "OK":
            code = str(data.get("Code"))
            raise vendor_error(self.name, code, str(data.get("Message", "")),
                               retry=code.startswith(RETRY_CODES))  # fmt: skip
        return str(data.get(reply_id, ""))

    def _post(self, url: str, params: dict[str, str], key: str) -> Mapping[str, Any]:
        signed = {
            **params,
            "Format": "JSON",
            "Version": VERSION,
            "AccessKeyId": self.key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": self.nonce(),
            "Timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        signed["Signature"] = rpc_signature(self.secret, "POST", signed)
        try:
            response = self.session.post(
                url, data=signed, timeout=self.timeout, allow_redirects=False,
                headers={"User-Agent": USER_AGENT})  # fmt: skip
        except requests.RequestException as exc:
            raise transport_failure(self.name, exc, key) from exc
        return reply_json(self.name, response)

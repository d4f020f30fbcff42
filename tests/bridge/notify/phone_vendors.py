"""Local stand-ins for Twilio and Alibaba Cloud: they check requests as the vendor documents.

Each verifies the credentials or signature itself (written here from the vendor's documents,
not with the bridge's code), answers with the vendor's documented bodies, and can accept a
request and then drop the connection without an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote

SID, TOKEN = "AC" + "0" * 32, "twilio-auth-token-0123"
KEY_ID, KEY_SECRET = "LTAI-test-id", "aliyun-secret-xyz"
SECRET_ID, SECRET_KEY = "AKID-test", "tencent-secret-key"


@dataclass
class Vendor:
    """What a fake vendor received and accepted; `drop` makes it accept, then hang up."""

    kind: str
    accepted: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    error: tuple[int, dict[str, Any]] | None = None  # the next answer, instead of success
    drop: bool = False
    nonces: set[str] = field(default_factory=set)
    port: int = 0
    raw: bytes = b""  # the last request's body

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: Any, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        check = {"twilio": twilio_check, "aliyun": aliyun_check, "tencent": tencent_check}[
            self.kind
        ]
        problem = check(path, headers, form, self)
        if problem is not None:
            self.refused.append(problem[1].get("message") or problem[1].get("Message", ""))
            return problem
        if self.error is not None:
            return self.error
        self.accepted.append(form)
        n = len(self.accepted)
        if self.kind == "twilio":
            prefix = "SM" if path.endswith("/Messages.json") else "CA"
            return 201, {"sid": f"{prefix}{n:032d}", "status": "queued", "to": form.get("To")}
        if self.kind == "tencent" and "CalledNumber" in form:
            return 200, {"Response": {"SendStatus": {
                "CallId": f"12582bce-403c-11eb-96b8-525400{n:06d}",
                "SessionContext": form.get("SessionContext", "")},
                "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}}  # fmt: skip
        if self.kind == "tencent":
            return 200, {"Response": {"RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
                         "SendStatusSet": [{"SerialNo": f"5000:1045710669157053657849499{n:03d}",
                                            "PhoneNumber": form["PhoneNumberSet"][0], "Fee": 1,
                                            "SessionContext": form.get("SessionContext", ""),
                                            "Code": "Ok", "Message": "send success",
                                            "IsoCode": "CN"}]}}  # fmt: skip
        if form.get("Action") == "SendSms":
            return 200, {"Code": "OK", "Message": "OK", "BizId": f"9006{n:08d}^0",
                         "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}  # fmt: skip
        return 200, {"Code": "OK", "Message": "OK", "CallId": f"116012354148^{n:08d}",
                     "RequestId": "D9CB3933-9FE3-4870-BA8E-2BEE91B69D23"}  # fmt: skip


def twilio_check(path: str, headers: Any, form: dict[str, str], vendor: Vendor) -> Any:
    """Refuse as Twilio does: 401 code 20003 on bad credentials, 400 on missing parameters."""
    expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    if headers.get("Authorization") != expected:
        return 401, {"code": 20003, "message": "Authenticate", "status": 401}
    if path not in (f"/2010-04-01/Accounts/{SID}/Messages.json",
                    f"/2010-04-01/Accounts/{SID}/Calls.json"):  # fmt: skip
        return 404, {
            "code": 20404,
            "message": "The requested resource was not found",
            "status": 404,
        }
    wanted = ("To", "From", "Body") if path.endswith("Messages.json") else ("To", "From", "Twiml")
    missing = [name for name in wanted if not form.get(name)]
    if missing:
        return 400, {"code": 21604, "message": f"A '{missing[0]}' is required.", "status": 400}
    return None


def aliyun_check(path: str, headers: Any, form: dict[str, str], vendor: Vendor) -> Any:
    """Verify the RPC signature and common parameters as Alibaba Cloud documents them."""
    given = form.pop("Signature", "")
    if form.get("AccessKeyId") != KEY_ID:
        return 404, {
            "Code": "InvalidAccessKeyId.NotFound",
            "Message": "Specified access key is not found.",
        }
    for name, value in (("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0"),
                        ("Version", "2017-05-25"), ("Format", "JSON")):  # fmt: skip
        if form.get(name) != value:
            return 400, {"Code": "MissingParameter", "Message": f"{name} is mandatory."}
    stamp = datetime.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - stamp) > timedelta(minutes=15):
        return 400, {
            "Code": "InvalidTimeStamp.Expired",
            "Message": "Specified time stamp is expired.",
        }
    nonce = form["SignatureNonce"]
    if nonce in vendor.nonces:
        return 400, {
            "Code": "SignatureNonceUsed",
            "Message": "Specified signature nonce was used already.",
        }

    def enc(value: str) -> str:
        return quote(value, safe="-_.~")

    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(form.items()))
    to_sign = "POST&%2F&" + enc(canonical)
    mac = hmac.new((KEY_SECRET + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(mac).decode(), given):
        return 400, {
            "Code": "SignatureDoesNotMatch",
            "Message": "Specified signature is not matched with our calculation.",
        }
    vendor.nonces.add(nonce)
    action = form.get("Action")
    wanted = {"SendSms": ("PhoneNumbers", "SignName", "TemplateCode"),
              "SingleCallByTts": ("CalledNumber", "TtsCode")}.get(action or "")  # fmt: skip
    if wanted is None:
        return 404, {"Code": "InvalidAction.NotFound", "Message": "Specified api is not found."}
    for name in wanted:
        if not form.get(name):
            return 400, {"Code": "MissingParameter", "Message": f"{name} is mandatory."}
    for name in ("TemplateParam", "TtsParam"):
        if name in form:
            json.loads(form[name])
    return None


def tencent_check(path: str, headers: Any, form: dict[str, Any], vendor: Vendor) -> Any:
    """Verify the TC3-HMAC-SHA256 signature as Tencent Cloud's Signature v3 document describes."""

    def refuse(code: str, message: str) -> Any:
        return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r"}}

    # Each action is served by its own product (the scope's service) in its own API version.
    apis = {"SendSms": ("sms", "2021-01-11"), "SendTtsVoice": ("vms", "2020-09-02")}
    action = headers.get("X-TC-Action", "")
    if action not in apis or headers.get("X-TC-Version") != apis[action][1]:
        return refuse("InvalidAction", "The action or version is not valid.")
    service = apis[action][0]
    stamp = int(headers.get("X-TC-Timestamp", "0"))
    if abs(datetime.now(UTC).timestamp() - stamp) > 300:
        return refuse("AuthFailure.SignatureExpire", "Signature expired.")
    algorithm, _, rest = headers.get("Authorization", "").partition(" ")
    parts = dict(item.strip().split("=", 1) for item in rest.split(","))
    date = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    if algorithm != "TC3-HMAC-SHA256" or parts.get("Credential") != f"{SECRET_ID}/{scope}":
        return refuse("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    signed = parts.get("SignedHeaders", "")
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n"
                                for name in signed.split(";"))  # fmt: skip
    canonical = "\n".join(["POST", "/", "", canonical_headers, signed,
                           hashlib.sha256(vendor.raw).hexdigest()])  # fmt: skip
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(stamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])  # fmt: skip

    def sign(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    key = sign(sign(sign(("TC3" + SECRET_KEY).encode(), date), service), "tc3_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if signed != "content-type;host" or not hmac.compare_digest(
        expected, parts.get("Signature", "")
    ):
        return refuse(
            "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
        )
    wanted = {"SendSms": ("PhoneNumberSet", "SmsSdkAppId", "SignName", "TemplateId"),
              "SendTtsVoice": ("CalledNumber", "VoiceSdkAppid", "TemplateId")}[action]  # fmt: skip
    for name in wanted:
        if not form.get(name):
            return refuse("MissingParameter", f"The parameter {name} is missing.")
    return None


@contextmanager
def vendor(kind: str) -> Iterator[Vendor]:
    """Run a fake vendor on 127.0.0.1 for the duration of a with-block."""
    state = Vendor(kind)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.raw = raw
            if kind == "tencent":
                form = json.loads(raw)
            else:
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
            status, body = state.answer(self.path, self.headers, form)
            if state.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

"""Twilio: SMS through the Messages API, calls through the Calls API with TwiML that gathers a key.

The call reads the page in the person's language (`<Say language=…>`) inside a one-digit
`<Gather>` whose action is this bridge's voice callback; a reply to an SMS reaches the sms
callback (configure it on the number). Both are verified with the account's auth token, so
the callback URL base (`callback_url`) must be the public address Twilio calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.channels import setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT
from tocsin.bridge.notify.channels.phone import (
    PhonePage,
    ack_code,
    phrase,
    sms_text,
    speech,
    transport_failure,
    vendor_error,
)

API_URL = "https://api.twilio.com"
SAY_LANGUAGE = {"en": "en-US", "zh-CN": "zh-CN"}
CALLBACK_PATH = "/api/v1/phone/{channel}/{what}"  # what: sms, voice, status
# The library logs each request with its body (numbers, texts) at INFO.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def callback(base: str, channel: str, what: str, **query: object) -> str:
    """Return the public URL Twilio calls back for a channel (sms, voice, status)."""
    path = CALLBACK_PATH.format(channel=channel, what=what)
    return base.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")


def twiml(page: PhonePage, action: str | None) -> str:
    """Return the call's TwiML: the page said twice, gathering one key for the action URL."""
    response = VoiceResponse()
    language = SAY_LANGUAGE.get(page.language, "en-US")
    if action:
        gather = Gather(num_digits=1, action=action, method="POST", timeout=8)
        gather.say(speech(page) + " " + phrase(page.language, "press"), language=language, loop=2)
        response.append(gather)
    else:
        response.say(speech(page), language=language, loop=2)
    return str(response)


class TwilioProvider:
    """Sends with the twilio library's REST client (Basic auth with the account SID and token)."""

    name = "twilio"

    def __init__(
        self, channel: str, settings: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.channel = channel
        sid = setting_secret(settings, "account_sid", channel=channel) or ""
        self.token = setting_secret(settings, "auth_token", channel=channel) or ""
        self.sender = str(settings.get("from") or "")
        if not self.sender:
            raise ConfigError(f"channel {channel!r}: set 'from', the Twilio number (E.164)")
        self.callback_url = settings.get("callback_url")
        self.client = Client(sid, self.token, http_client=TwilioHttpClient(timeout=timeout))
        self.client.api.base_url = str(settings.get("api_url") or API_URL)

    def send(self, kind: str, page: PhonePage) -> str:
        """Create the message or call; return its SID."""
        try:
            if kind == "sms":
                return str(self.client.messages.create(**self._sms(page)).sid)
            return str(self.client.calls.create(**self._call(page)).sid)
        except TwilioRestException as exc:
            retry = exc.status == 429 or exc.status >= 500
            raise vendor_error(self.name, str(exc.code), str(exc.msg), retry=retry) from exc
        except requests.RequestException as exc:
            raise transport_failure(self.name, exc, page.key) from exc

    def _sms(self, page: PhonePage) -> dict[str, Any]:
        replies = self.callback_url and page.person and not page.summary
        code = (
            ack_code(self.token, page.incident_id, page.person) if replies and page.person else None
        )
        values: dict[str, Any] = {"to": page.to, "from_": self.sender, "body": sms_text(page, code)}
        if self.callback_url:
            values["status_callback"] = callback(self.callback_url, self.channel, "status")
        return values

    def _call(self, page: PhonePage) -> dict[str, Any]:
        action = None
        if self.callback_url and page.person and not page.summary:
            action = callback(self.callback_url, self.channel, "voice",
                              incident=page.incident_id, person=page.person)  # fmt: skip
        values: dict[str, Any] = {"to": page.to, "from_": self.sender, "twiml": twiml(page, action)}
        if self.callback_url:
            values["status_callback"] = callback(self.callback_url, self.channel, "status")
            values["status_callback_event"] = ["completed"]
        return values

"""The chat channels' common shape: construction, the HTTP session and the send loop.

A vendor says only what differs: its payload (`payload`), how it signs (`sign_url`,
`sign_body`) and which reply field means success (`codes`). A message its renderer cannot
build, or that the receiver refuses (HTTP 4xx), goes out as plain text instead, so a page
never becomes a dead letter because of its own contents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from tocsin.bridge.errors import DeliveryRefused
from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT, JsonPoster
from tocsin.bridge.platform.clock import Clock, utcnow

log = logging.getLogger(__name__)
# Refusals of what was sent rather than where or by whom: a plain-text page may still pass.
CONTENT_REFUSED = frozenset({400, 413, 415, 422})


class HttpChannel:
    """Posts one JSON body per notification to the channel's URL; subclasses shape the body."""

    type: str  # the policy channel type it serves
    codes: ClassVar[tuple[str, ...]] = ()  # reply fields of which the first present must be 0
    signs: ClassVar[bool] = False  # whether the channel takes an optional `secret` to sign with

    def __init__(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utcnow,
    ) -> None:
        self.name = name
        self.settings = settings
        self.url = setting_secret(settings, "url", channel=name) or ""
        self.secret = (
            setting_secret(settings, "secret", channel=name, required=False) if self.signs else None
        )
        self.clock = clock
        secrets = [self.secret] if self.secret else []
        self.poster = JsonPoster(name, self.url, secrets=secrets, session=session, timeout=timeout)

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the body the vendor documents for this notification."""
        raise NotImplementedError

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the body of a plain-text message, for a page the payload could not be built for."""
        raise NotImplementedError

    def sign_url(self, url: str) -> str:
        """Return the URL to post to, signed at send time when the vendor signs in the query."""
        return url

    def sign_body(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return the body to post, signed at send time when the vendor signs in the body."""
        return body

    def deliver(self, notification: Notification) -> None:
        """Post the payload; if it cannot be rendered or the receiver refuses it, plain text.

        Returns once the receiver accepted one of them; raises DeliveryFailed otherwise.
        """
        try:
            body = self.payload(notification)
        except Exception:  # a renderer's bug must not cost the page: send it as plain text
            log.exception(
                "%s: rendering %s failed; sending plain text", self.name, notification.key
            )
            self.post(self.text_payload(notification), notification.key)
            return
        try:
            self.post(body, notification.key)
        except DeliveryRefused as exc:
            text = self.text_payload(notification)
            if exc.status not in CONTENT_REFUSED or text == body:
                raise
            log.warning(
                "%s: %s; sending %s as plain text", self.name, exc.message, notification.key
            )
            self.post(text, notification.key)

    def post(self, body: Mapping[str, Any], key: str) -> None:
        """Sign and post one body; a reply code other than 0 is a failure."""
        response = self.poster.post(self.sign_body(body), key=key, url=self.sign_url(self.url))
        if self.codes:
            self.poster.require_code(response, *self.codes)

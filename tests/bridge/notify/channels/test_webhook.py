from __future__ import annotations

import socket

import pytest

from tests.bridge.notify.receiver import receiving
from tests.bridge.notify.sample import notification
from tocsin.bridge.errors import DeliveryFailed
from tocsin.bridge.notify.channels.webhook import WebhookSender


def test_webhook_posts_the_contract_event_with_an_idempotency_key() -> None:
    with receiving() as receiver:
        WebhookSender("audit", {"url": receiver.url()}).deliver(notification())
    got = receiver.received[0]
    assert got.headers["idempotency-key"] == "ev1-ops-carol"
    assert set(got.json) == {"event", "occurred_at", "incident", "page"}
    assert got.json["incident"]["title"] == "磁盘空间不足 on db-1"
    assert "磁盘空间不足".encode() in got.raw


def test_a_500_is_a_failure_naming_the_status_but_not_the_token() -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (500, "boom")
        sender = WebhookSender("audit", {"url": receiver.url("/hook/SECRETPATH?token=QUERYSECRET")})
        with pytest.raises(DeliveryFailed) as caught:
            sender.deliver(notification())
    assert "HTTP 500: boom" in caught.value.message
    assert "SECRETPATH" not in caught.value.message and "QUERYSECRET" not in caught.value.message


def test_a_receiver_that_is_down_is_a_failure_without_the_token() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sender = WebhookSender("audit", {"url": f"http://127.0.0.1:{port}/h?token=QUERYSECRET"})
    with pytest.raises(DeliveryFailed) as caught:
        sender.deliver(notification())
    assert "cannot connect" in caught.value.message and "QUERYSECRET" not in str(caught.value)


def test_a_429_passes_on_retry_after() -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (429, "")
        sender = WebhookSender("audit", {"url": receiver.url()})
        original = receiver.server.RequestHandlerClass.send_header

        def send_header(self, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
            original(self, name, value)
            if name == "Content-Length":
                original(self, "Retry-After", "7")

        receiver.server.RequestHandlerClass.send_header = send_header  # type: ignore[method-assign]
        with pytest.raises(DeliveryFailed) as caught:
            sender.deliver(notification())
    assert caught.value.retry_after == 7

"""The JSON poster: which answers are refusals for good and which are worth another attempt."""

from __future__ import annotations

import socket

import pytest

from tests.bridge.notify.receiver import receiving
from tocsin.bridge.errors import DeliveryFailed, DeliveryRefused
from tocsin.bridge.notify.channels.http import JsonPoster


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_a_4xx_is_a_refusal_for_good(status: int) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (status, "no such hook")
        with pytest.raises(DeliveryRefused) as caught:
            JsonPoster("audit", receiver.url()).post({}, key="k")
    assert f"HTTP {status}: no such hook" in caught.value.message


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503])
def test_a_5xx_or_a_busy_4xx_is_worth_another_attempt(status: int) -> None:
    with receiving() as receiver:
        receiver.answer = lambda _: (status, "")
        with pytest.raises(DeliveryFailed) as caught:
            JsonPoster("audit", receiver.url()).post({}, key="k")
    assert not isinstance(caught.value, DeliveryRefused)


def test_a_receiver_that_never_answers_is_worth_another_attempt() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        with pytest.raises(DeliveryFailed) as caught:
            JsonPoster("audit", url, timeout=0.2).post({}, key="k")
    assert "no answer in 0.2s" in caught.value.message
    assert not isinstance(caught.value, DeliveryRefused)


def test_a_refused_connection_is_worth_another_attempt() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    with pytest.raises(DeliveryFailed) as caught:
        JsonPoster("audit", url).post({}, key="k")
    assert "cannot connect" in caught.value.message
    assert not isinstance(caught.value, DeliveryRefused)

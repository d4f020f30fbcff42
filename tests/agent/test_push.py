"""Pushing: the Alertmanager v2 wire format, error translation, backoff and ordered delivery."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.agent.fakes import FakeClock, Receiver
from tocsin.agent.deadletters import DeadLetters
from tocsin.agent.errors import PushRejected, PushUnavailable
from tocsin.agent.push import Receiver as Client
from tocsin.agent.push import WireAlert, retry_after, rfc3339
from tocsin.agent.pusher import Backoff, Heartbeat, Pusher
from tocsin.agent.spool import Spool

FIRING = WireAlert((("alertname", "A"), ("instance", "h")), (("summary", "s"),), 1_700_000_000.0)


def alert(name: str, ends_at: float | None = None) -> WireAlert:
    return WireAlert((("alertname", name),), (), 1_700_000_000.0, ends_at)


def client(receiver: Receiver, token: str | None = "tok") -> Client:
    return Client(receiver.url, token, timeout=2.0)


def test_alerts_post_as_alertmanager_v2_with_bearer_token(receiver: Receiver) -> None:
    client(receiver).post_alerts([FIRING], now=1_700_000_060.0, ttl=240.0)
    (request,) = receiver.requests
    assert request.path == "/api/v2/alerts"
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.body == [
        {
            "labels": {"alertname": "A", "instance": "h"},
            "annotations": {"summary": "s"},
            "startsAt": "2023-11-14T22:13:20.000Z",
            "endsAt": "2023-11-14T22:18:20.000Z",
        }
    ]


def test_the_source_link_is_spooled_and_sent_as_generator_url(tmp_path: Path) -> None:
    linked = WireAlert(FIRING.labels, (), FIRING.starts_at, None, "http://h:9101/metrics")
    spool = Spool(tmp_path, 1 << 20)
    spool.append([linked])
    ((_, back),) = Spool(tmp_path, 1 << 20).take(10)
    assert back == linked
    assert back.postable(1_700_000_060.0, 240.0)["generatorURL"] == "http://h:9101/metrics"


def test_an_alert_spooled_before_source_links_reads_back_without_one() -> None:
    old = {"labels": {"alertname": "A"}, "annotations": {}, "startsAt": 1.0, "endsAt": None}
    assert WireAlert.from_json(old).generator_url == ""
    assert "generatorURL" not in WireAlert.from_json(old).postable(2.0, 60.0)


def test_resolved_alert_carries_its_real_end(receiver: Receiver) -> None:
    client(receiver).post_alerts(
        [alert("A", ends_at=1_700_000_030.0)], now=1_700_009_999.0, ttl=240
    )
    assert receiver.requests[0].body[0]["endsAt"] == rfc3339(1_700_000_030.0)


def test_no_token_sends_no_authorization(receiver: Receiver) -> None:
    client(receiver, token=None).post_alerts([FIRING], 0.0, 1.0)
    assert "Authorization" not in receiver.requests[0].headers


@pytest.mark.parametrize(
    ("status", "headers", "error", "reason", "wait"),
    [
        (400, {}, PushRejected, "http_400", None),
        (401, {}, PushRejected, "http_401", None),
        (500, {}, PushUnavailable, "http_500", None),
        (503, {"Retry-After": "7"}, PushUnavailable, "http_503", 7.0),
        (429, {"Retry-After": "3"}, PushUnavailable, "http_429", 3.0),
    ],
)
def test_http_errors_are_rejections_or_retryable(
    receiver: Receiver,
    status: int,
    headers: dict[str, str],
    error: type,
    reason: str,
    wait: float | None,
) -> None:
    receiver.answer = lambda request: (status, headers)
    with pytest.raises(error) as caught:
        client(receiver).post_alerts([FIRING], 0.0, 1.0)
    assert caught.value.reason == reason
    assert getattr(caught.value, "retry_after", None) == wait
    assert "tok" not in str(caught.value)


def test_refused_connection_is_retryable() -> None:
    with pytest.raises(PushUnavailable) as caught:
        Client("http://127.0.0.1:9", None, timeout=1.0).post_alerts([FIRING], 0.0, 1.0)
    assert caught.value.reason == "connection"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),
        ("soon", None),
        (None, None),
        ("999999", 3600.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    assert retry_after(header, now=1_700_000_000.0) == expected


@pytest.mark.parametrize(
    ("attempt", "retry", "draw", "expected"),
    [
        (1, None, 0.0, 0.5),
        (1, None, 1.0, 1.0),
        (4, None, 1.0, 8.0),
        (20, None, 1.0, 60.0),
        (1, 30.0, 0.0, 30.0),
    ],
)
def test_backoff_doubles_with_jitter_up_to_a_cap_and_honours_retry_after(
    attempt: int, retry: float | None, draw: float, expected: float
) -> None:
    assert Backoff(base=1.0, cap=60.0).delay(attempt, retry, draw) == expected


def make_pusher(receiver: Receiver, tmp_path: Path, clock: FakeClock, **kwargs: object) -> Pusher:
    spool = Spool(tmp_path / "spool", 1 << 20, clock=clock)
    letters = DeadLetters(tmp_path / "dead-letters.jsonl")
    return Pusher(
        client(receiver),
        spool,
        ttl=240.0,
        clock=clock,
        draw=lambda: 1.0,
        dead_letters=letters,
        **kwargs,  # type: ignore[arg-type]
    )


def test_batches_are_delivered_in_order(receiver: Receiver, tmp_path: Path) -> None:
    pusher = make_pusher(receiver, tmp_path, FakeClock())
    for name in ("A", "B", "C"):
        pusher.enqueue([alert(name)])
    pusher.step()
    assert [a["labels"]["alertname"] for a in receiver.alerts()] == ["A", "B", "C"]
    assert pusher.spool.depth == 0


def test_unavailable_receiver_keeps_batches_spooled_and_retries_after_backoff(
    receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock()
    answers = iter([(503, {})])
    receiver.answer = lambda request: next(answers, (200, {}))
    pusher = make_pusher(receiver, tmp_path, clock)
    pusher.enqueue([alert("A")])
    pusher.enqueue([alert("B")])
    assert pusher.step() == pytest.approx(1.0)
    assert (pusher.spool.depth, pusher.failures["http_503"]) == (2, 1)
    clock.advance(1.0)
    pusher.step()
    assert [a["labels"]["alertname"] for a in receiver.alerts()] == ["A", "B"]


def test_a_batch_refused_whole_is_split_until_the_refused_alert_stands_alone(
    receiver: Receiver, tmp_path: Path
) -> None:
    names = lambda request: {a["labels"]["alertname"] for a in request.body}  # noqa: E731
    receiver.answer = lambda request: (400, {}) if "A" in names(request) else (200, {})
    pusher = make_pusher(receiver, tmp_path, FakeClock())
    pusher.enqueue([alert("A")])
    pusher.enqueue([alert("B")])
    pusher.step()
    assert [a["labels"]["alertname"] for a in receiver.alerts()] == ["B"]
    assert pusher.failures == {"http_400": 2}
    (letter,) = pusher.dead_letters.letters()
    assert (dict(letter.alert.labels)["alertname"], letter.reason) == ("A", "http_400")
    assert pusher.spool.depth == 0


def test_refresh_waits_until_the_spool_is_empty(receiver: Receiver, tmp_path: Path) -> None:
    pusher = make_pusher(receiver, tmp_path, FakeClock())
    pusher.refresh([alert("Refresh")])
    pusher.enqueue([alert("Transition")])
    pusher.step()
    assert [a["labels"]["alertname"] for a in receiver.alerts()] == ["Transition", "Refresh"]


def test_heartbeat_goes_to_its_endpoint_every_interval(receiver: Receiver, tmp_path: Path) -> None:
    clock = FakeClock()
    pusher = make_pusher(
        receiver, tmp_path, clock, heartbeat=Heartbeat("web1", 30.0, {"env": "prod"})
    )
    assert pusher.step() == pytest.approx(30.0)
    clock.advance(30.0)
    pusher.step()
    beats = [r for r in receiver.requests if r.path == "/api/v1/heartbeats"]
    assert [b.body for b in beats] == [
        {"host": "web1", "interval_seconds": 30.0, "labels": {"env": "prod"}}
    ] * 2


def test_missing_heartbeat_endpoint_is_logged_once(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answer = lambda request: (404, {})
    clock = FakeClock()
    pusher = make_pusher(receiver, tmp_path, clock, heartbeat=Heartbeat("web1", 30.0, {}))
    with caplog.at_level(logging.INFO, logger="tocsin.agent.pusher"):
        for _ in range(3):
            pusher.step()
            clock.advance(30.0)
    assert sum("no heartbeat endpoint" in r.message for r in caplog.records) == 1
    assert pusher.failures == {}


def test_messages_never_show_credentials_in_the_url() -> None:
    with pytest.raises(PushUnavailable) as caught:
        Client("http://user:pw@127.0.0.1:9", None, timeout=1.0).post_alerts([FIRING], 0.0, 1.0)
    assert "pw" not in str(caught.value)
    assert "http://***@127.0.0.1:9/api/v2/alerts" in str(caught.value)


def test_a_waiting_refresh_never_undoes_a_later_resolution(
    receiver: Receiver, tmp_path: Path
) -> None:
    pusher = make_pusher(receiver, tmp_path, FakeClock())
    pusher.refresh([alert("A"), alert("B")])
    pusher.enqueue([WireAlert((("alertname", "A"),), (), 1_700_000_000.0, 1_700_000_050.0)])
    pusher.step()
    sent = [(a["labels"]["alertname"], a["endsAt"]) for a in receiver.alerts()]
    assert sent[0] == ("A", rfc3339(1_700_000_050.0))
    assert [name for name, _ in sent[1:]] == ["B"]

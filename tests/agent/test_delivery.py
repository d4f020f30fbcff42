"""Delivery: batched, paced replay; refusals dead-lettered with their reason, never lost quietly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.agent.fakes import FakeClock, Receiver, Request
from tocsin.agent.deadletters import DeadLetter, DeadLetters
from tocsin.agent.deliverymetrics import GAUGE_HELP, with_delivery_gauges
from tocsin.agent.evaluator import Evaluator
from tocsin.agent.push import SENDER_TIME_HEADER, WireAlert, rfc3339
from tocsin.agent.push import Receiver as Client
from tocsin.agent.pusher import Pace, Pusher
from tocsin.agent.rules import load_bundled_rules
from tocsin.agent.sample import Sample
from tocsin.agent.spool import Spool

T0 = 1_700_000_000.0


def alert(name: str, ends_at: float | None = None, summary: str = "s") -> WireAlert:
    return WireAlert((("alertname", name),), (("summary", summary),), T0, ends_at)


def make(receiver: Receiver, tmp_path: Path, clock: FakeClock, pace: Pace | None = None) -> Pusher:
    return Pusher(
        Client(receiver.url, "tok", timeout=2.0, clock=clock),
        Spool(tmp_path / "spool", 1 << 24, clock=clock),
        ttl=240.0,
        clock=clock,
        draw=lambda: 1.0,
        dead_letters=DeadLetters(tmp_path / "dead-letters.jsonl"),
        pace=pace or Pace(),
    )


def posts(receiver: Receiver) -> list[list[str]]:
    return [[a["labels"]["alertname"] for a in r.body] for r in receiver.requests]


def test_a_backlog_goes_out_many_alerts_per_post(receiver: Receiver, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    pusher = make(receiver, tmp_path, clock, Pace(max_batch=4, max_rate=1000.0))
    for index in range(10):
        pusher.enqueue([alert(f"a{index}")])
    for _ in range(10):
        clock.advance(pusher.step())
    assert [len(batch) for batch in posts(receiver)] == [4, 4, 2]


def test_a_backlog_drains_no_faster_than_the_configured_rate(
    receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    pusher = make(receiver, tmp_path, clock, Pace(max_batch=10, max_rate=5.0))
    pusher.enqueue([alert(f"a{index}") for index in range(40)])
    started = clock.now
    for _ in range(100):
        wait = pusher.step()
        if not pusher.spool.depth:
            break
        clock.advance(wait)
    assert sum(len(batch) for batch in posts(receiver)) == 40
    # 10 go at once (the burst), the other 30 at 5 a second.
    assert clock.now - started == pytest.approx(30 / 5.0)


def test_a_503_with_retry_after_holds_the_replay_back(receiver: Receiver, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    answers = iter([(503, {"Retry-After": "120"})])
    receiver.answer = lambda request: next(answers, (200, {}))
    pusher = make(receiver, tmp_path, clock)
    pusher.enqueue([alert("a")])
    assert pusher.step() == pytest.approx(120.0)
    clock.advance(119)
    pusher.step()
    assert receiver.requests == []
    clock.advance(1)
    pusher.step()
    assert posts(receiver) == [["a"]]


def test_each_push_carries_the_agents_clock(receiver: Receiver, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    pusher = make(receiver, tmp_path, clock)
    pusher.enqueue([alert("a")])
    pusher.step()
    assert receiver.requests[0].headers[SENDER_TIME_HEADER] == rfc3339(T0)


def refuse_b(receiver: Receiver, stored: list[str]) -> None:
    """Answer as a bridge does: store the valid alerts, name the invalid one in `rejected[]`."""

    def answer(request: Request) -> tuple[int, dict[str, str]]:
        names = [a["labels"]["alertname"] for a in request.body]
        stored.extend(name for name in names if name != "b")
        return (400, {}) if "b" in names else (200, {})

    def body(request: Request) -> dict[str, Any]:
        names = [a["labels"]["alertname"] for a in request.body]
        index = names.index("b")
        return {
            "error": f"1 alert(s) invalid, {len(names) - 1} stored",
            "rejected": [{"index": index, "field": f"[{index}].labels", "error": "bad"}],
        }

    receiver.answer = answer
    receiver.bodies[400] = body


def test_only_the_alert_a_bridge_names_is_dead_lettered(receiver: Receiver, tmp_path: Path) -> None:
    stored: list[str] = []
    refuse_b(receiver, stored)
    pusher = make(receiver, tmp_path, FakeClock(T0))
    pusher.enqueue([alert(name) for name in "abcdefghij"])
    pusher.step()
    assert stored == list("acdefghij")
    (letter,) = pusher.dead_letters.letters()
    assert dict(letter.alert.labels)["alertname"] == "b"
    assert (letter.reason, letter.detail, letter.withhold) == ("http_400", "[1].labels: bad", True)
    assert pusher.dead_letters.counted == {"http_400": 1}
    assert pusher.spool.depth == 0


def test_a_refused_alert_is_left_out_of_resends_until_its_output_changes(
    receiver: Receiver, tmp_path: Path
) -> None:
    stored: list[str] = []
    refuse_b(receiver, stored)
    pusher = make(receiver, tmp_path, FakeClock(T0))
    pusher.enqueue([alert("a"), alert("b")])
    pusher.step()
    receiver.answer = lambda request: (200, {})
    pusher.refresh([alert("a"), alert("b")])
    pusher.step()
    assert posts(receiver)[-1] == ["a"]
    assert pusher.withheld_total == 1
    pusher.refresh([alert("a"), alert("b", summary="fixed")])
    pusher.step()
    assert posts(receiver)[-1] == ["a", "b"]


def test_refused_credentials_dead_letter_the_batch_but_withhold_nothing(
    receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    receiver.answer = lambda request: (401, {})
    pusher = make(receiver, tmp_path, clock)
    pusher.enqueue([alert("a"), alert("a", ends_at=T0 + 5), alert("c")])
    wait = pusher.step()
    letters = pusher.dead_letters.letters()
    assert sorted((dict(d.alert.labels)["alertname"], d.alert.ends_at) for d in letters) == [
        ("a", T0 + 5),
        ("c", None),
    ]
    assert {d.reason for d in letters} == {"http_401"}
    assert pusher.auth_failing
    assert wait > 0  # backs off rather than hammering a receiver that refuses it
    receiver.answer = lambda request: (200, {})
    clock.advance(wait)
    pusher.refresh([alert("c")])
    pusher.step()
    assert posts(receiver) == [["c"]]
    assert not pusher.auth_failing


def test_too_large_a_batch_is_halved_and_a_single_oversized_alert_dead_lettered(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.answer = lambda request: (
        (413, {})
        if len(request.body) > 2 or request.body[0]["labels"]["alertname"] == "big"
        else (200, {})
    )
    pusher = make(receiver, tmp_path, FakeClock(T0))
    pusher.enqueue([alert(name) for name in ("a", "b", "c", "big", "d")])
    pusher.step()
    assert sorted(name for batch in posts(receiver) for name in batch) == ["a", "b", "c", "d"]
    (letter,) = pusher.dead_letters.letters()
    assert (dict(letter.alert.labels)["alertname"], letter.reason) == ("big", "http_413")


def test_the_dead_letter_file_keeps_only_the_newest(tmp_path: Path) -> None:
    store = DeadLetters(tmp_path / "dl.jsonl", max_entries=3)
    store.add([DeadLetter(T0 + i, "http_400", "bad", alert(f"a{i}"), True) for i in range(5)])
    again = DeadLetters(tmp_path / "dl.jsonl", max_entries=3)
    assert [dict(d.alert.labels)["alertname"] for d in again.letters()] == ["a2", "a3", "a4"]
    assert store.evicted_total == 2
    assert again.sendable([alert("a0"), alert("a4")]) == [alert("a0")]


def test_a_transition_refused_again_keeps_one_letter(tmp_path: Path) -> None:
    store = DeadLetters(tmp_path / "dl.jsonl")
    store.add([DeadLetter(T0, "http_401", "no", alert("a"), False)])
    store.add([DeadLetter(T0 + 60, "http_401", "no", alert("a"), False)])
    assert [letter.at for letter in store.letters()] == [T0 + 60]
    assert store.counted == {"http_401": 2}


def test_clearing_the_file_elsewhere_lets_the_running_agent_send_again(tmp_path: Path) -> None:
    running = DeadLetters(tmp_path / "dl.jsonl")
    running.add([DeadLetter(T0, "http_400", "bad", alert("a"), True)])
    assert running.sendable([alert("a")]) == []
    assert DeadLetters(tmp_path / "dl.jsonl").clear() == 1
    assert running.sendable([alert("a")]) == [alert("a")]


def test_the_bundled_rules_watch_refusals_and_a_stalled_queue(
    receiver: Receiver, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    receiver.answer = lambda request: (401, {})
    pusher = make(receiver, tmp_path, clock)
    pusher.enqueue([alert("a")])
    pusher.step()
    receiver.answer = lambda request: (503, {})
    pusher.enqueue([alert("b")])
    clock.advance(1000)
    rules = tuple(r for r in load_bundled_rules() if r.metric in GAUGE_HELP)
    evaluator = Evaluator(rules, (("instance", "web1"),))
    states: dict[Any, Any] = {}
    firing: set[str] = set()
    for _ in range(7):  # the stalled queue must hold for its `for` of 5 minutes
        sample = with_delivery_gauges(Sample(taken_at=clock.now), [pusher], clock.now)
        states, _ = evaluator.evaluate(states, sample, clock.now)
        firing = {s.rule.split("/")[0] for s in states.values() if s.status == "firing"}
        clock.advance(60)
    assert {name.split(":")[0] for name in firing} >= {
        "TocsinAgentQueueStalled",
        "TocsinAgentAlertsRefused",
        "TocsinAgentCredentialsRefused",
    }

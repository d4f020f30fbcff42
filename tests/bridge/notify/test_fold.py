"""A storm past a person's phone limit folds into one summary: nothing sent beyond it, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.bridge.helpers import FakeClock, make_runtime
from tests.bridge.notify import phone_vendors as pv
from tests.bridge.notify.conftest import rendered
from tests.bridge.notify.test_personal_paging import fire, notified
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.fold import KIND
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import timers

NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


OPENED: list[Runtime] = []  # runtimes a test built, their pools closed after it


@pytest.fixture(autouse=True)
def _dispose() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().store.dispose()


def storm_bridge(sqlite_url: str, tmp_path: Path, api: str = "http://127.0.0.1:9",
                 language: str = "en", kind: str = "sms",
                 limit: str = "{pages: 2, per: 10m}") -> Runtime:  # fmt: skip
    (tmp_path / "token").write_text(pv.TOKEN)
    twilio = (f"provider: twilio, account_sid: {pv.SID}, auth_token_file: {tmp_path / 'token'}, "
              f"from: '+15005550006', api_url: '{api}', callback_url: https://oncall.example.com")  # fmt: skip
    policy = f"""
priorities:
  P1: {{response: 15m}}
routes: [{{priority: P1, escalation: ops}}]
channels:
  text: {{type: {kind}, {twilio}}}
people:
  carol:
    phone: '+8613800138000'
    language: {language}
    channels: [text]
    phone_limit: {limit}
escalation_policies:
  ops:
    steps: [{{after: 0m, notify: [person:carol]}}]
"""
    runtime = make_runtime(sqlite_url, FakeClock(NOON), policy=policy)
    OPENED.append(runtime)
    return runtime


def storm(runtime: Runtime, count: int) -> list[int]:
    return [
        runtime.incidents.create(
            title=f"disk full {n}", priority="P1", actor=None, escalation_policy="ops"
        )  # fmt: skip
        for n in range(count)
    ]


def texts(runtime: Runtime) -> list[tuple[int | None, str]]:
    with runtime.store.connect() as conn:
        rows = rendered(conn, runtime.pager, queue.list_rows(conn, status=None))
    return [(r.incident_id, r.payload["message"]["title"]) for r in reversed(rows)]


def folded(runtime: Runtime) -> float:
    sample = {"channel": "text"}
    value = runtime.metrics.registry.get_sample_value("tocsin_bridge_phone_folded_total", sample)
    return value or 0.0


def test_pages_past_the_limit_are_folded_each_with_an_event_and_a_count(
    database_url: str, tmp_path: Path
) -> None:
    runtime = storm_bridge(database_url, tmp_path)
    ids = storm(runtime, 5)
    assert [incident for incident, _ in texts(runtime)] == ids[:2]
    folds = [n for n in notified(runtime) if n.get("folded")]
    assert [(n["person"], n["folded"], n["until"]) for n in folds] == [
        ("carol", "text", "2026-03-02T04:10:00Z")
    ] * 3
    assert folded(runtime) == 3
    with runtime.store.connect() as conn:
        (summary,) = conn.execute(select(timers.c.payload).where(timers.c.kind == KIND)).all()
    assert summary.payload["incidents"] == ids[2:]


def test_the_summary_lists_every_folded_incident_and_which_are_unacknowledged(
    database_url: str, tmp_path: Path
) -> None:
    runtime = storm_bridge(database_url, tmp_path)
    ids = storm(runtime, 5)
    runtime.incidents.act(ids[3], "ack", actor="carol")
    runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    fire(runtime)
    incident, text = texts(runtime)[-1]
    assert incident is None  # about several incidents: never dropped as one's stale page
    assert text == (
        f"Tocsin: 3 more incidents, 2 unacknowledged: #{ids[2]} P1 disk full 2; "
        f"#{ids[3]} P1 disk full 3 (acknowledged); #{ids[4]} P1 disk full 4. "
        "Board: http://127.0.0.1:8080/"
    )


def test_the_summary_is_in_the_persons_language(sqlite_url: str, tmp_path: Path) -> None:
    runtime = storm_bridge(sqlite_url, tmp_path, language="zh-CN")
    ids = storm(runtime, 3)
    runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    fire(runtime)
    assert texts(runtime)[-1][1] == (
        f"Tocsin：另有 1 个事件，1 个未确认：#{ids[2]} P1 disk full 2。看板：http://127.0.0.1:8080/"
    )


def test_after_the_window_the_person_is_paged_again_one_by_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    runtime = storm_bridge(sqlite_url, tmp_path)
    storm(runtime, 3)
    runtime.clock.advance(minutes=11)  # type: ignore[attr-defined]
    (later,) = storm(runtime, 1)
    assert texts(runtime)[-1][0] == later and folded(runtime) == 1


def test_the_summary_reaches_the_phone_as_one_sms_without_an_ack_code(
    sqlite_url: str, tmp_path: Path
) -> None:
    with pv.vendor("twilio") as vendor:
        runtime = storm_bridge(sqlite_url, tmp_path, api=vendor.url())
        storm(runtime, 4)
        runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
        fire(runtime)
        worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
        worker.clock = utcnow
        while worker.run_once():
            pass
    bodies = sorted(sent["Body"] for sent in vendor.accepted)  # sent side by side: any order
    assert len(bodies) == 3 and bodies[-1].startswith("Tocsin: 2 more incidents, 2 unacknowledged")
    assert "Reply" not in bodies[-1] and all("Reply" in body for body in bodies[:2])


def test_a_call_never_rings_sooner_than_the_call_interval_after_the_last(
    database_url: str, tmp_path: Path
) -> None:
    runtime = storm_bridge(
        database_url, tmp_path, kind="voice", limit="{pages: 10, per: 5m, call_interval: 15m}"
    )
    ids = storm(runtime, 3)  # within the page limit, but one call at a time
    assert [incident for incident, _ in texts(runtime)] == ids[:1]
    folds = [n for n in notified(runtime) if n.get("folded")]
    # The summary call waits the interval, longer than the page window.
    assert [n["until"] for n in folds] == ["2026-03-02T04:15:00Z"] * 2
    runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    (later,) = storm(runtime, 1)
    fire(runtime)
    assert len(texts(runtime)) == 1 and folded(runtime) == 3  # still within 15 min of the call
    runtime.clock.advance(minutes=5)  # type: ignore[attr-defined]
    fire(runtime)
    summary, text = texts(runtime)[-1]
    assert summary is None and text.startswith("Tocsin: 3 more incidents")
    assert f"#{later} " in text
    runtime.clock.advance(minutes=16)  # type: ignore[attr-defined]
    (after,) = storm(runtime, 1)
    assert texts(runtime)[-1][0] == after  # the interval passed since the summary call


def test_call_interval_is_checked_like_the_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="call_interval"):
        storm_bridge(
            f"sqlite:///{tmp_path / 'db'}", tmp_path, limit="{pages: 1, per: 5m, call_interval: 0s}"
        )

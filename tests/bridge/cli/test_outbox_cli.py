"""`tocsin-bridge outbox list|retry` against a real bridge API on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import uvicorn
from click.testing import CliRunner

from tests.bridge.helpers import OPERATOR
from tocsin.bridge.cli import main
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.notices import Notice, enqueue_notice
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app


@pytest.fixture
def url(runtime: Runtime) -> Iterator[str]:
    app = create_app(runtime, start_workers=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def dead_letter(runtime: Runtime) -> int:
    incident_id = runtime.incidents.create(title="t", priority="P1", actor=None)
    now = runtime.clock()
    with runtime.store.begin() as conn:
        queue.enqueue_many(conn, [queue.outbox_row(
            key="k1", event_id=1, incident_id=incident_id, channel="ops-chat", recipient="carol",
            payload={"body": {"event": "incident.triggered"}}, now=now)])  # fmt: skip
        (row,) = queue.claim(conn, worker="w", now=now, lease=timedelta(seconds=5), limit=1)
        queue.mark_failed(conn, row, worker="w", error="ops-chat: errcode 93000", retry_at=None)
        return row.id


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["outbox", *args, "--url", url, "--token", OPERATOR])
    return result.exit_code, result.output


def test_list_shows_dead_letters_and_why(runtime: Runtime, url: str) -> None:
    entry_id = dead_letter(runtime)
    code, out = run(url, "list", "--status", "dead")
    assert code == 0
    assert "pending 0, dead 1" in out
    assert (
        f"#{entry_id} dead ops-chat (carol)" in out and "last error: ops-chat: errcode 93000" in out
    )


def test_list_shows_a_report_without_an_incident(runtime: Runtime, url: str) -> None:
    notice = Notice(event="report.sla", channel="ops-chat", key="report:weekly:x:ops-chat")
    with runtime.store.begin() as conn:
        enqueue_notice(conn, notice, runtime.clock())
    code, out = run(url, "list")
    assert code == 0
    assert "pending ops-chat report.sla attempts 0" in out and "#None" not in out


def test_retry_makes_them_due_again(runtime: Runtime, url: str) -> None:
    entry_id = dead_letter(runtime)
    code, out = run(url, "retry", str(entry_id))
    assert (code, out.strip()) == (0, f"#{entry_id} pending: due again now")


def test_retry_of_an_unknown_entry_exits_with_the_bridges_reason(url: str) -> None:
    code, out = run(url, "retry", "99")
    assert code != 0 and "no outbox entry 99" in out

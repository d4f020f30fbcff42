"""SLA reports from a process of their own: the same report, bounded, timed out, restarted."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from starlette.responses import JSONResponse

from tests.bridge.helpers import OPERATOR, bearer, make_runtime
from tests.bridge.reports.held import WAIT, HeldRequest
from tests.bridge.reports.history import history, store
from tests.bridge.reports.test_same_as_before import NOW, SINCE, UNTIL
from tests.bridge.testclient import TestClient
from tocsin.bridge.errors import ReportsBusy
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.offload import ReportRequest, ReportRunner
from tocsin.bridge.reports.render import report_to_dict
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata


def eventually(condition: Callable[[], bool]) -> None:
    until = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < until, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def seeded(database_url: str) -> Iterator[Store]:
    found, timeline, clocks = history(0, SINCE, 80)
    engine = create_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        store(conn, found, timeline, clocks)
    engine.dispose()
    seeded = Store(database_url)
    yield seeded
    seeded.dispose()


def request(**extra: str) -> ReportRequest:
    return ReportRequest(load_policy(), SINCE, UNTIL, NOW, **extra)  # type: ignore[arg-type]


def test_a_report_process_gives_the_report_computed_in_the_caller(seeded: Store) -> None:
    runner = ReportRunner(seeded, processes=1)
    try:
        for team, priority in ((None, None), ("db", "P3")):
            window = ReportRequest(load_policy(), SINCE, UNTIL, NOW, team, priority)
            ours = runner.report(window)
            assert ours == ReportRunner(seeded, processes=0).report(window)
            assert report_to_dict(ours)["total"]["opened"] > 0
            # The API's JSON, encoded in the report process: the bytes JSONResponse would send.
            assert runner.report_json(window) == JSONResponse(report_to_dict(ours)).body
    finally:
        runner.stop()


def test_reports_past_the_queue_are_refused_503_and_an_overrun_one_restarts(
    sqlite_url: str, tmp_path: Path
) -> None:
    runtime = make_runtime(sqlite_url, migrate=False, report_processes=1, report_queue=1)
    runner = runtime.reports
    started, release = tmp_path / "started", tmp_path / "release"
    held = HeldRequest(load_policy(), SINCE, UNTIL, NOW, started=str(started), release=str(release))
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(runner.report(r)))  # type: ignore[misc]
        for r in (held, request())
    ]
    try:
        threads[0].start()
        eventually(started.exists)  # the process is busy with the held report
        threads[1].start()
        eventually(lambda: runner._waiting == 1)  # one waits: the queue is full
        with TestClient(create_app(runtime, start_workers=False)) as client:
            response = client.get("/api/v1/reports/sla", headers=bearer(OPERATOR))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        assert "too many reports" in response.json()["error"]
        release.touch()
        for thread in threads:
            thread.join(WAIT)
        assert [type(r) for r in results] == [SlaReport, SlaReport]
        # A report over the timeout: its process is killed, the next report starts another.
        first = runner._all[0].process
        assert first is not None
        release.unlink()
        started.unlink()
        runner.timeout = 0.2
        with pytest.raises(ReportsBusy, match="took longer"):
            runner.report(held)
        assert not first.is_alive()
        runner.timeout = WAIT
        assert isinstance(runner.report(request()), SlaReport)
        # A process that died between reports is started again for the next one.
        second = runner._all[0].process
        assert second is not None and second.pid is not None and second.pid != first.pid
        os.kill(second.pid, signal.SIGKILL)
        second.join(WAIT)
        assert isinstance(runner.report(request()), SlaReport)
    finally:
        release.touch()
        runner.stop()
        runtime.store.dispose()

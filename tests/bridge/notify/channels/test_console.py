"""The `log` channel: a page in the bridge's own log, on one line, as the bundled policy sends it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.bridge.helpers import FakeClock
from tests.bridge.notify.sample import notification
from tocsin.bridge.notify.channels.console import LogSender
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.policy import load_policy
from tocsin.bridge.runtime import build_runtime
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata


def test_a_page_is_one_log_line_naming_whom_it_is_for(caplog: pytest.LogCaptureFixture) -> None:
    page = notification(detail="line one\r\nFake: injected")
    with caplog.at_level(logging.INFO, logger="tocsin.bridge.pages"):
        LogSender("console", {}).deliver(page)
    (record,) = caplog.records
    assert record.getMessage().startswith("PAGE to console via console: [P1 emergency] ")
    assert "line one Fake: injected |" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_the_bundled_policy_pages_the_primary_on_call_into_the_log(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(sqlite_url)
    metadata.create_all(store.engine)
    config = BridgeConfig(
        database_url=sqlite_url, secret_key=b"s", public_url="http://127.0.0.1:8080"
    )
    runtime = build_runtime(config, policy=load_policy(), clock=FakeClock(), store=store)
    worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
    runtime.incidents.create(
        title="disk full on db-1", priority="P1", actor=None, escalation_policy="ops"
    )
    with caplog.at_level(logging.INFO, logger="tocsin.bridge.pages"):
        while worker.run_once():
            pass
    store.dispose()
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("PAGE to primary via console: New P1 incident: disk full on db-1 | ")
    assert "disk full on db-1" in line and "http://127.0.0.1:8080/ack/" in line

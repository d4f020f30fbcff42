from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.bridge.helpers import config_for
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.install import serving_jobs
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.platform.config import parse_config
from tocsin.bridge.platform.notify_settings import NotifySettings
from tocsin.bridge.runtime import build_runtime


def test_no_notify_section_gives_the_defaults() -> None:
    assert parse_config({}, "bridge.yml").notify == NotifySettings()


def test_notify_section_sets_link_lifetime_and_retries() -> None:
    raw = {
        "notify": {"ack_link_ttl": "2h", "max_attempts": 5, "retry_base": "1s", "retry_cap": "1m"}
    }
    notify = parse_config(raw, "bridge.yml").notify
    assert notify == NotifySettings(
        timedelta(hours=2), 5, timedelta(seconds=1), timedelta(minutes=1)
    )


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"ack_link_ttl": "soon"}, "notify.ack_link_ttl"),
        ({"max_attempts": 0}, "notify.max_attempts: 0 is not a whole number >= 1"),
        ({"retry_cap": "0s"}, "notify.retry_cap: '0s' must be longer than zero"),
        ({"retries": 3}, "notify.retries: unknown key"),
        ({"deliver_from": "all"}, "notify.deliver_from: 'all' is not one of first, every, process"),
        ({"parallel": 0}, "notify.parallel: 0 is not a whole number from 1 to 64"),
        ({"parallel": 65}, "notify.parallel: 65 is not a whole number from 1 to 64"),
        ({"parallel": "8"}, "notify.parallel: '8' is not a whole number from 1 to 64"),
        ({"parallel": True}, "notify.parallel: True is not a whole number from 1 to 64"),
    ],
)
def test_a_bad_notify_setting_names_its_key(notify: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"notify": notify}, "bridge.yml")
    assert message in caught.value.message and caught.value.exit_code == 78


def test_parallel_sets_how_many_deliveries_a_process_makes_at_once(tmp_path: Any) -> None:
    notify = parse_config({"notify": {"parallel": 3}}, "bridge.yml").notify
    runtime = build_runtime(
        replace(config_for(f"sqlite:///{tmp_path / 'tocsin.db'}"), notify=notify)
    )
    workers = [job for job in runtime.workers if isinstance(job, DeliveryWorker)]
    runtime.store.dispose()
    assert [worker.parallel for worker in workers] == [3]
    assert NotifySettings().parallel == 8


@pytest.mark.parametrize(
    ("deliver_from", "first", "later"),
    [("first", True, False), ("every", True, True), (None, True, True), ("process", False, False)],
)
def test_which_worker_processes_deliver(
    tmp_path: Any, deliver_from: str | None, first: bool, later: bool
) -> None:
    config = config_for(f"sqlite:///{tmp_path / 'tocsin.db'}")
    raw = {} if deliver_from is None else {"deliver_from": deliver_from}  # None: the default
    notify = parse_config({"notify": raw}, "bridge.yml").notify
    assert notify.deliver_from == (deliver_from or "every")
    runtime = build_runtime(replace(config, notify=notify))
    try:
        firsts = serving_jobs(runtime.workers, runtime.config.notify, 0)
        laters = serving_jobs(runtime.workers, runtime.config.notify, 1)
    finally:
        runtime.store.dispose()
    others = [job for job in runtime.workers if not isinstance(job, DeliveryWorker)]
    assert [job for job in firsts if not isinstance(job, DeliveryWorker)] == others
    assert any(isinstance(job, DeliveryWorker) for job in firsts) == first
    assert laters == [job for job in runtime.workers if isinstance(job, DeliveryWorker) and later]

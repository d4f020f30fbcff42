"""The alert state file: round trip, atomic replacement, a damaged file set aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tocsin.agent.errors import NewerState, StorageError
from tocsin.agent.evaluator import AlertState
from tocsin.agent.state import StateStore

FIRING = AlertState(
    rule="HostCpuHigh/critical/",
    metric="tocsin_cpu_usage_ratio",
    labels=(("alertname", "HostCpuHigh"), ("severity", "critical")),
    status="firing",
    active_since=100.0,
    value=0.97,
    annotations=(("summary", "CPU 97%"),),
    fired_at=160.0,
)


def test_saved_alerts_load_back_equal(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "alerts.json")
    store.save({FIRING.labels: FIRING}, now=200.0)
    assert StateStore(tmp_path / "alerts.json").load() == {FIRING.labels: FIRING}


def test_no_file_means_no_alerts(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "alerts.json").load() == {}


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    StateStore(tmp_path / "alerts.json").save({}, now=0.0)
    assert [p.name for p in tmp_path.iterdir()] == ["alerts.json"]


def test_damaged_file_is_set_aside_and_the_agent_starts_empty(tmp_path: Path) -> None:
    (tmp_path / "alerts.json").write_text('{"alerts": [{"rule": ')
    assert StateStore(tmp_path / "alerts.json").load() == {}
    assert (tmp_path / "alerts.json.damaged").exists()


def test_unwritable_location_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match="cannot save alert state") as caught:
        StateStore(tmp_path / "file" / "alerts.json").save({}, now=0.0)
    assert caught.value.exit_code == 74


def test_a_file_of_a_newer_format_is_refused_not_read(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text('{"version": 2, "saved_at": 1, "alerts": []}')
    with pytest.raises(NewerState) as caught:
        StateStore(path).load()
    assert "alert state in format 2, written by a newer tocsin-agent" in str(caught.value)
    assert "reads format 1 at most" in str(caught.value)
    assert caught.value.exit_code == 78
    assert path.exists()  # left as it is, for the newer agent


def test_a_file_without_a_version_is_read_as_the_first_format(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    StateStore(path).save({FIRING.labels: FIRING}, now=200.0)
    document = json.loads(path.read_text())
    del document["version"]
    path.write_text(json.dumps(document))
    assert StateStore(path).load() == {FIRING.labels: FIRING}


def test_a_version_that_is_no_number_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text('{"version": "two", "alerts": []}')
    assert StateStore(path).load() == {}
    assert (tmp_path / "alerts.json.damaged").exists()

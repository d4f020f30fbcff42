"""The API against a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.bridge.helpers import INGEST, OPERATOR, bearer
from tests.bridge.server import BridgeProcess
from tests.pg import create_database
from tocsin.bridge.cli.client import BridgeClient
from tocsin.bridge.errors import Conflict, Forbidden


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bridge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    tmp = tmp_path_factory.mktemp("bridge")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'tocsin.db'}"
    else:
        url = create_database(request.getfixturevalue("postgres_server"))
    process = BridgeProcess(tmp, url, limits={"max_body_bytes": "256KiB"})
    process.start()
    yield process
    process.stop()


@pytest.fixture
def operator(bridge: BridgeProcess) -> BridgeClient:
    return BridgeClient(bridge.url, OPERATOR, timeout=10)


@pytest.fixture
def sender(bridge: BridgeProcess) -> BridgeClient:
    return BridgeClient(bridge.url, INGEST, timeout=10)


def fire(sender: BridgeClient, **labels: str) -> dict:
    return sender.post_alerts([{"labels": {"alertname": "Test", **labels}}])


def find(operator: BridgeClient, **labels: str) -> list[dict]:
    page = operator.list_incidents(limit=1000)["incidents"]
    return [i for i in page if all(i["labels"].get(k) == v for k, v in labels.items())]


def test_alert_becomes_an_incident_that_can_be_acknowledged(
    operator: BridgeClient, sender: BridgeClient
) -> None:
    fire(sender, case="ack")
    [incident] = find(operator, case="ack")
    acked = operator.act(incident["id"], "ack")
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "alice")
    with pytest.raises(Conflict):
        operator.act(incident["id"], "ack")


def test_sender_token_cannot_read_incidents(sender: BridgeClient) -> None:
    with pytest.raises(Forbidden):
        sender.list_incidents()


def test_no_token_is_401(bridge: BridgeProcess) -> None:
    assert requests.get(f"{bridge.url}/api/v1/incidents", timeout=5).status_code == 401


@pytest.mark.parametrize(
    "value",
    ["'; DROP TABLE incidents; --", "<script>alert(1)</script>", "磁盘已满 ✓ \u202e", 'a\\"b'],
    ids=["sql", "html", "unicode", "quotes"],
)
def test_hostile_label_values_are_stored_verbatim(
    operator: BridgeClient, sender: BridgeClient, value: str
) -> None:
    fire(sender, case="hostile", payload=value)
    [incident] = [i for i in find(operator, case="hostile") if i["labels"]["payload"] == value]
    assert operator.get_incident(incident["id"])["alerts"][0]["labels"]["payload"] == value


def test_huge_body_is_413(bridge: BridgeProcess) -> None:
    body = json.dumps([{"labels": {"alertname": "x" * 300_000}}])
    response = requests.post(
        f"{bridge.url}/api/v2/alerts", data=body, headers=bearer(INGEST), timeout=10
    )
    assert response.status_code == 413


def test_deep_json_is_400(bridge: BridgeProcess) -> None:
    body = "[" * 50_000 + "]" * 50_000
    response = requests.post(
        f"{bridge.url}/api/v2/alerts", data=body, headers=bearer(INGEST), timeout=10
    )
    assert response.status_code == 400


def test_wrong_types_name_the_field(bridge: BridgeProcess) -> None:
    response = requests.post(
        f"{bridge.url}/api/v1/heartbeats", json={"host": 5}, headers=bearer(INGEST), timeout=10
    )
    assert response.status_code == 422
    assert response.json()["field"] == "host"


def test_metrics_count_received_alerts(bridge: BridgeProcess, sender: BridgeClient) -> None:
    fire(sender, case="metrics")
    text = requests.get(f"{bridge.url}/metrics", timeout=5).text
    assert 'tocsin_bridge_alerts_received_total{route="v2"}' in text
    assert "tocsin_bridge_incidents_open{" in text


def test_readyz_reports_the_schema_current(bridge: BridgeProcess) -> None:
    assert requests.get(f"{bridge.url}/readyz", timeout=5).json() == {"status": "ok"}


def test_cli_lists_incidents_as_a_table(
    bridge: BridgeProcess, sender: BridgeClient, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tocsin.bridge.cli import main

    fire(sender, case="cli")
    result = CliRunner().invoke(
        main, ["incidents", "--url", bridge.url, "list"], env={"TOCSIN_TOKEN": OPERATOR}
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:3] == ["ID", "PRI", "STATUS"]


def test_chunked_body_over_the_limit_is_413(bridge: BridgeProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for _ in range(5000):
            yield b'{"labels": {"a": "' + b"x" * 50 + b'"}},'
        yield b'{"labels": {"a": "b"}}]'

    response = requests.post(
        f"{bridge.url}/api/v2/alerts", data=chunks(), headers=bearer(INGEST), timeout=10
    )
    assert response.status_code == 413

"""An alert's incident: titled with its host, on the sender's team."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bridge.api.test_ingest_api import alert, incidents, post
from tests.bridge.helpers import FakeClock, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.server.app import create_app


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_runtime(sqlite_url, FakeClock()))) as client:
        yield client


def with_summary(summary: str, **labels: str) -> dict:
    return {**alert(**labels), "annotations": {"summary": summary}}


def test_an_agents_title_names_its_host(client: TestClient) -> None:
    post(client, [with_summary("CPU usage 95%")])
    assert incidents(client)[0]["title"] == "CPU usage 95% on db1"


def test_a_summary_naming_the_host_is_kept_as_it_is(client: TestClient) -> None:
    post(client, [with_summary("db1: CPU usage 95%")])
    assert incidents(client)[0]["title"] == "db1: CPU usage 95%"


def test_the_agents_team_label_becomes_the_incidents_team(client: TestClient) -> None:
    post(client, [with_summary("CPU usage 95%", team="payments")])
    assert incidents(client)[0]["team"] == "payments"

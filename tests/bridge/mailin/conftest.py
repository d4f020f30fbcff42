"""Fixtures of the mail gateway tests: a runtime recording pages, and its gateway."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from tests.bridge.sla.harness import FakeClock, make_runtime
from tocsin.bridge.mailin.gateway import Gateway, MailMetrics
from tocsin.bridge.platform.mailin_settings import MailinSettings, MailRule, SmtpListen
from tocsin.bridge.runtime import Runtime

POLICY = """
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
  P3: {name: general, response: 8h, resolution: 48h}
routes:
  - {priority: P3, escalation: desk, team: desk}
people:
  ann: {name: Ann, email: ann@example.com}
teams:
  desk: {members: [ann]}
escalation_policies:
  desk: {steps: [{after: 0m, notify: [team:desk]}]}
"""
SETTINGS = MailinSettings(
    max_bytes=64 * 1024,
    rules=(MailRule(subject=re.compile("urgent|紧急|緊急", re.IGNORECASE), priority="P1"),),
    smtp=SmtpListen("127.0.0.1:0"),
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    built = make_runtime(sqlite_url, clock, POLICY)
    yield built
    built.store.dispose()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def gateway(runtime: Runtime, registry: CollectorRegistry) -> Gateway:
    return Gateway(SETTINGS, lambda: runtime.incidents, MailMetrics(registry))

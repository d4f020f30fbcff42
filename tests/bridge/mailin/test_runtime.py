"""A bridge configured with `mailin:` runs both ways in: its listener and its mailbox poller."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.bridge.helpers import FakeClock, make_runtime
from tests.bridge.mailin.conftest import POLICY
from tests.bridge.mailin.dovecot import PASSWORD, USER, Dovecot, dovecot
from tests.bridge.mailin.mails import SENDER, mail
from tests.bridge.notify.smtpserver import free_port
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import parse_config
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import incidents

WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


def configured(sqlite_url: str, mailin: dict[str, object], tmp_path: Path) -> Runtime:
    config = parse_config({"database_url": sqlite_url, "mailin": mailin}, "bridge.yml", tmp_path)
    return make_runtime(sqlite_url, FakeClock(), config=config, policy=POLICY, migrate=False)


def titles(runtime: Runtime) -> set[str]:
    with runtime.store.connect() as conn:
        return set(conn.execute(select(incidents.c.title)).scalars())


def test_the_runtime_listens_and_polls(sqlite_url: str, server: Dovecot, tmp_path: Path) -> None:
    port = free_port()
    runtime = configured(
        sqlite_url,
        {
            "smtp": {"listen": f"127.0.0.1:{port}"},
            "imap": {"host": "127.0.0.1", "port": server.imaps_port, "username": USER,
                     "password": PASSWORD, "ca_file": str(server.ca_file), "interval": "0.2s"},
        },
        tmp_path,
    )  # fmt: skip
    box = server.client()
    box.append("INBOX", None, None, mail("by imap"))
    runtime.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(SENDER, ["desk@example.com"], mail("by smtp"))
        deadline = time.monotonic() + WAIT_SECONDS
        while titles(runtime) != {"by imap", "by smtp"} and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runtime.stop()
        box.logout()
    assert titles(runtime) == {"by imap", "by smtp"}


def test_a_rule_naming_an_unknown_priority_stops_the_runtime_being_built(
    sqlite_url: str, tmp_path: Path
) -> None:
    mailin = {"smtp": {"listen": "127.0.0.1:2525"}, "rules": [{"subject": "x", "priority": "P2"}]}
    with pytest.raises(ConfigError, match="mailin.rules\\[0\\].priority: 'P2' is not a priority"):
        configured(sqlite_url, mailin, tmp_path)

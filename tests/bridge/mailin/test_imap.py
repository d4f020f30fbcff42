"""The IMAP poller against a real Dovecot over TLS: mail marked seen only once it is stored."""

from __future__ import annotations

import imaplib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from tests.bridge.helpers import make_runtime
from tests.bridge.mailin.conftest import POLICY, SETTINGS
from tests.bridge.mailin.dovecot import PASSWORD, USER, Dovecot, dovecot
from tests.bridge.mailin.mails import SENDER, mail, malformed
from tests.bridge.sla.harness import FakeClock, event_data, incident_row, pages
from tocsin.bridge.errors import MailboxUnavailable
from tocsin.bridge.mailin.gateway import Gateway, MailMetrics
from tocsin.bridge.mailin.imap import REFUSED_FLAG, ImapPoller
from tocsin.bridge.platform.config import BridgeConfig, Limits
from tocsin.bridge.platform.mailin_settings import ImapSource, MailRule
from tocsin.bridge.runtime import Runtime

NOW = datetime(2026, 3, 2, 9, 0)


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


@pytest.fixture
def box(server: Dovecot) -> Iterator[imaplib.IMAP4_SSL]:
    """A client of the test mailbox, emptied of earlier tests' mail."""
    client = server.client()
    for folder in ("INBOX", "Refused"):
        typ, count = client.select(folder)
        if typ == "OK" and int(count[0]) > 0:
            client.store("1:*", "+FLAGS", "(\\Deleted)")
            client.expunge()
    yield client
    client.logout()


def source(server: Dovecot, **changes: object) -> ImapSource:
    base = ImapSource(
        host="127.0.0.1",
        username=USER,
        password=PASSWORD,
        port=server.imaps_port,
        ca_file=server.ca_file,
        refused_folder="Refused",
        timeout=30.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def deliver(box: imaplib.IMAP4_SSL, *raws: bytes) -> None:
    for raw in raws:
        assert box.append("INBOX", None, None, raw)[0] == "OK"


def flags(box: imaplib.IMAP4_SSL, folder: str = "INBOX") -> list[str]:
    """Return the flags of each mail in a folder, in order (\\Recent left out: it is per session)."""
    typ, count = box.select(folder)
    if typ != "OK" or int(count[0]) == 0:
        return []
    _, data = box.fetch("1:*", "(FLAGS)")
    return [
        " ".join(flag for flag in found.group(1).decode().split() if flag != "\\Recent")
        for item in data
        if isinstance(item, bytes) and (found := re.search(rb"FLAGS \(([^)]*)\)", item))
    ]


def poll(gateway: Gateway, server: Dovecot, **changes: object) -> int:
    return ImapPoller(gateway, source(server, **changes))(NOW)


def test_a_mail_opens_an_incident_and_is_marked_seen_after(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL, runtime: Runtime
) -> None:
    deliver(box, mail("urgent: payroll down"))
    assert poll(gateway, server) == 1
    row = incident_row(runtime, 1)
    assert (row.title, row.priority, row.reporter_contact) == ("urgent: payroll down", "P1", SENDER)
    assert pages(runtime) == [("person:ann",)]
    assert "\\Seen" in flags(box)[0]
    assert poll(gateway, server) == 0  # seen mail is not taken again


def test_starttls_on_the_plain_port_works_too(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL, runtime: Runtime
) -> None:
    deliver(box, mail())
    assert poll(gateway, server, security="starttls", port=server.imap_port) == 1


def test_a_server_the_ca_did_not_sign_is_refused_and_its_mail_left(
    gateway: Gateway,
    server: Dovecot,
    box: imaplib.IMAP4_SSL,
    runtime: Runtime,
    registry: CollectorRegistry,
) -> None:
    deliver(box, mail())
    with pytest.raises(MailboxUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        poll(gateway, server, ca_file=None)
    assert flags(box) == [""]
    assert registry.get_sample_value("tocsin_bridge_mail_polls_total", {"result": "failed"}) == 1


def test_a_wrong_password_is_refused_without_showing_it(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL
) -> None:
    with pytest.raises(MailboxUnavailable) as refused:
        poll(gateway, server, password="not-the-Secret7")
    assert "login as 'desk' refused" in refused.value.message
    assert "not-the-Secret7" not in refused.value.message


def test_a_reply_is_a_note_and_resumes_a_paused_incident(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL, runtime: Runtime, clock: FakeClock
) -> None:
    deliver(box, mail("urgent: payroll down"))
    poll(gateway, server)
    runtime.incidents.act(1, "ack", actor="ann")
    runtime.incidents.act(1, "pause", actor="ann", reason="which browser?")
    clock.advance(minutes=5)
    reply = mail(
        "Re: urgent: payroll down",
        "Firefox.",
        headers={"In-Reply-To": "<tocsin.1.update.c0ffee@tocsin>"},
    )
    deliver(box, reply)
    assert poll(gateway, server) == 1
    assert event_data(runtime, 1, "incident.note_added")[0]["text"] == "Firefox."
    assert not incident_row(runtime, 1).paused


def test_auto_replies_are_marked_seen_and_open_nothing(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL, runtime: Runtime
) -> None:
    deliver(
        box, mail(headers={"Auto-Submitted": "auto-replied"}), mail(headers={"Return-Path": "<>"})
    )
    assert poll(gateway, server) == 2
    assert all("\\Seen" in f for f in flags(box))
    with runtime.store.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from incidents").scalar() == 0


@pytest.mark.parametrize(
    ("charset", "subject", "body"),
    [
        ("gb18030", "紧急：工资系统宕机", "今天九点以后无法登录，错误码 𠀀。"),
        ("big5", "緊急：薪資系統當機", "今天九點以後無法登入。"),
    ],
)
def test_chinese_mail_is_read_in_its_charset(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL, runtime: Runtime,
    charset: str, subject: str, body: str,
) -> None:  # fmt: skip
    deliver(box, mail(subject, body, charset=charset, name="王力"))
    poll(gateway, server)
    row = incident_row(runtime, 1)
    assert (row.title, row.description, row.reporter, row.priority) == (subject, body, "王力", "P1")


def test_oversize_and_malformed_mail_is_moved_aside_not_lost(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL, runtime: Runtime
) -> None:
    deliver(box, mail(body="x" * (SETTINGS.max_bytes + 10)), malformed(), mail("fine"))
    assert poll(gateway, server) == 3
    assert len(flags(box, "Refused")) == 2
    assert flags(box, "INBOX") == ["\\Seen"]
    assert incident_row(runtime, 1).title == "fine"


def test_without_a_refused_folder_refused_mail_is_flagged_and_left_unread(
    gateway: Gateway, server: Dovecot, box: imaplib.IMAP4_SSL
) -> None:
    deliver(box, malformed())
    assert poll(gateway, server, refused_folder=None) == 1
    assert flags(box) == [REFUSED_FLAG]
    assert poll(gateway, server, refused_folder=None) == 0


def test_a_database_outage_leaves_the_mail_unseen_for_the_next_round(
    server: Dovecot, box: imaplib.IMAP4_SSL, sqlite_url: str, registry: CollectorRegistry
) -> None:
    config = BridgeConfig(database_url=sqlite_url, limits=Limits(busy_timeout=0.2))
    runtime = make_runtime(sqlite_url, FakeClock(), config=config, policy=POLICY, migrate=False)
    gateway = Gateway(SETTINGS, lambda: runtime.incidents, MailMetrics(registry))
    deliver(box, mail())
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    holder.execute("begin exclusive")
    try:
        assert poll(gateway, server) == 0
    finally:
        holder.rollback()
        holder.close()
    assert flags(box) == [""]
    labels = {"transport": "imap", "outcome": "deferred", "reason": "unavailable"}
    assert registry.get_sample_value("tocsin_bridge_mail_total", labels) == 1
    assert poll(gateway, server) == 1
    runtime.store.dispose()


def test_a_mail_that_cannot_be_stored_does_not_hold_up_the_others(
    runtime: Runtime, server: Dovecot, box: imaplib.IMAP4_SSL, registry: CollectorRegistry
) -> None:
    # A rule naming a priority the policy lacks (check-config would refuse it) fails one mail.
    poisoned = replace(
        SETTINGS, rules=(MailRule(subject=re.compile("poison"), priority="P9"), *SETTINGS.rules)
    )
    gateway = Gateway(poisoned, lambda: runtime.incidents, MailMetrics(registry))
    deliver(box, mail("poison"), mail("fine"))
    assert poll(gateway, server) == 2
    assert incident_row(runtime, 1).title == "fine"
    assert flags(box) == ["", "\\Seen"]
    labels = {"transport": "imap", "outcome": "deferred", "reason": "error"}
    assert registry.get_sample_value("tocsin_bridge_mail_total", labels) == 1

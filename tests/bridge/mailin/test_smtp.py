"""The SMTP/LMTP listener, driven by a real client (smtplib): 250 only once stored, 5xx refusals."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.bridge.mailin.conftest import SETTINGS
from tests.bridge.mailin.dovecot import ca_and_cert
from tests.bridge.mailin.mails import SENDER, dsn, mail, malformed
from tests.bridge.notify.smtpserver import free_port
from tests.bridge.sla.harness import event_data, incident_row, pages
from tocsin.bridge.mailin.gateway import Gateway
from tocsin.bridge.mailin.smtp import SmtpListener
from tocsin.bridge.platform.mailin_settings import SmtpListen
from tocsin.bridge.runtime import Runtime

DESK = "help@desk.example.com"


def listener(gateway: Gateway, protocol: str = "smtp") -> SmtpListener:
    settings = SmtpListen(f"127.0.0.1:{free_port()}", protocol, recipients=(DESK,))
    return SmtpListener(gateway, settings, SETTINGS.max_bytes)


@pytest.fixture
def smtp(gateway: Gateway) -> Iterator[SmtpListener]:
    server = listener(gateway)
    server.start()
    yield server
    server.stop()


def send(
    port: int, raw: bytes, sender: str = SENDER, lmtp: bool = False
) -> dict[str, tuple[int, bytes]]:
    client = (
        smtplib.LMTP("127.0.0.1", port, timeout=30)
        if lmtp
        else smtplib.SMTP("127.0.0.1", port, timeout=30)
    )
    with client:
        return client.sendmail(sender, [DESK], raw)


def refusal(port: int, raw: bytes, sender: str = SENDER) -> tuple[int, bytes]:
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as caught:
        send(port, raw, sender)
    return caught.value.smtp_code, caught.value.smtp_error


def test_a_mail_over_smtp_opens_an_incident_and_pages(smtp: SmtpListener, runtime: Runtime) -> None:
    assert send(smtp.port, mail("urgent: payroll down")) == {}
    row = incident_row(runtime, 1)
    assert (row.title, row.priority, row.reporter_contact) == ("urgent: payroll down", "P1", SENDER)
    assert pages(runtime) == [("person:ann",)]


def test_a_reply_over_smtp_becomes_a_note(smtp: SmtpListener, runtime: Runtime) -> None:
    send(smtp.port, mail())
    send(smtp.port, mail("Re: [#1] Payroll server is down", "Works now."))
    assert [n["text"] for n in event_data(runtime, 1, "incident.note_added")] == ["Works now."]


def test_an_unknown_recipient_is_refused(smtp: SmtpListener) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(SENDER, ["someone@elsewhere.example.com"], mail())


def test_an_auto_reply_is_accepted_and_dropped(
    smtp: SmtpListener, runtime: Runtime, registry: CollectorRegistry
) -> None:
    assert send(smtp.port, mail(headers={"X-Autoreply": "yes"})) == {}
    assert send(smtp.port, dsn(), sender="") == {}
    with runtime.store.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from incidents").scalar() == 0
    labels = {"transport": "smtp", "outcome": "ignored", "reason": "bounce"}
    assert registry.get_sample_value("tocsin_bridge_mail_total", labels) == 1


def test_a_malformed_mail_is_refused_with_a_5xx(
    smtp: SmtpListener, registry: CollectorRegistry
) -> None:
    code, text = refusal(smtp.port, malformed())
    assert code == 550 and b"malformed MIME" in text
    labels = {"transport": "smtp", "outcome": "refused", "reason": "malformed"}
    assert registry.get_sample_value("tocsin_bridge_mail_total", labels) == 1


def test_an_undecodable_mail_is_refused_with_a_5xx(smtp: SmtpListener) -> None:
    raw = mail(body="今天", charset="big5").replace(b"big5", b"x-no-such-charset")
    assert refusal(smtp.port, raw)[0] == 550


def test_an_oversize_mail_is_refused_logged_and_counted(
    smtp: SmtpListener, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    code, _ = refusal(smtp.port, mail(body="x" * (SETTINGS.max_bytes + 10)))
    assert code == 552
    labels = {"transport": "smtp", "outcome": "refused", "reason": "too_large"}
    assert registry.get_sample_value("tocsin_bridge_mail_total", labels) == 1
    assert "mail refused (too_large)" in caplog.text


def test_a_database_fault_answers_451_so_the_sender_keeps_the_mail(
    runtime: Runtime, gateway: Gateway, registry: CollectorRegistry
) -> None:
    server = listener(gateway)
    server.start()
    try:
        runtime.store.dispose()
        runtime.store.engine.pool.dispose()
        with runtime.store.engine.begin() as conn:
            conn.exec_driver_sql("drop table incidents")
        code, _ = refusal(server.port, mail())
    finally:
        server.stop()
    assert code == 451
    labels = {"transport": "smtp", "outcome": "deferred", "reason": "unavailable"}
    assert registry.get_sample_value("tocsin_bridge_mail_total", labels) == 1


def test_lmtp_answers_once_per_recipient(gateway: Gateway, runtime: Runtime) -> None:
    server = listener(gateway, "lmtp")
    server.start()
    try:
        assert send(server.port, mail(), lmtp=True) == {}
    finally:
        server.stop()
    assert incident_row(runtime, 1).reporter_contact == SENDER


def test_starttls_is_offered_with_a_certificate_and_can_be_required(
    gateway: Gateway, runtime: Runtime, tmp_path: Path
) -> None:
    ca, cert, key = ca_and_cert(tmp_path)
    settings = SmtpListen(f"127.0.0.1:{free_port()}", tls_cert=cert, tls_key=key, require_tls=True)
    server = SmtpListener(gateway, settings, SETTINGS.max_bytes)
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as plain:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                plain.sendmail(SENDER, [DESK], mail())
            assert refused.value.smtp_code == 530
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(ca)))
            client.sendmail(SENDER, [DESK], mail("over TLS"))
    finally:
        server.stop()
    assert incident_row(runtime, 1).title == "over TLS"


def test_smtputf8_mail_with_raw_utf8_headers_is_read(smtp: SmtpListener, runtime: Runtime) -> None:
    raw = (
        "From: 王力 <wang.li@customer.example.com>\r\nSubject: 紧急：数据库宕机\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "无法连接。\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as client:
        client.sendmail(SENDER, [DESK], raw, mail_options=["SMTPUTF8"])
    row = incident_row(runtime, 1)
    assert (row.title, row.reporter, row.description) == ("紧急：数据库宕机", "王力", "无法连接。")

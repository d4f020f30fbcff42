from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge.notify.sample import notification
from tests.bridge.notify.smtpserver import PASSWORD, USER, Mailbox, smtp_server
from tocsin.bridge.errors import DeliveryFailed
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.email import EmailSender
from tocsin.bridge.platform.config import Smtp

Server = tuple[Mailbox, Smtp, ssl.SSLContext]
TO = {"to": ["ops@example.com"]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with smtp_server(tmp_path) as (mailbox, port, cafile):
        settings = Smtp(
            host="127.0.0.1", port=port, sender="tocsin@example.com",
            username=USER, password=PASSWORD, timeout=5,
        )  # fmt: skip
        yield mailbox, settings, ssl.create_default_context(cafile=str(cafile))


def test_mail_arrives_over_starttls_after_login_with_text_and_html(server: Server) -> None:
    mailbox, smtp, tls = server
    EmailSender("ops-mail", TO, smtp, tls_context=tls).deliver(notification())
    mail = mailbox.messages[0]
    assert mailbox.logins == [(USER, PASSWORD)] and mailbox.recipients == [["ops@example.com"]]
    assert mail["Subject"] == "[P1 emergency] Triggered: 磁盘空间不足 on db-1"
    assert mail["Message-ID"] == "<ev1-ops-carol@tocsin>"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and "Summary: /var 使用率 97%" in text.get_content()
    assert html is not None and 'href="https://oncall.example.com/ack/TOKEN"' in html.get_content()


def test_a_person_paged_by_mail_gets_it_at_their_address(server: Server) -> None:
    mailbox, smtp, tls = server
    page = notification()
    person = dataclasses.replace(page, to=("carol@example.com",))
    assert isinstance(person, Notification)
    EmailSender("email", {}, smtp, tls_context=tls).deliver(person)
    assert mailbox.recipients == [["carol@example.com"]]


def test_a_wrong_password_fails_without_echoing_it(server: Server) -> None:
    _, smtp, tls = server
    wrong = dataclasses.replace(smtp, password="WrongPassword77")
    with pytest.raises(DeliveryFailed) as caught:
        EmailSender("ops-mail", TO, wrong, tls_context=tls).deliver(notification())
    assert "login as 'tocsin' refused (535)" in caught.value.message
    assert "WrongPassword77" not in caught.value.message and "WrongPassword77" not in repr(wrong)


def test_an_untrusted_certificate_is_refused(server: Server) -> None:
    mailbox, smtp, _ = server
    with pytest.raises(DeliveryFailed) as caught:
        EmailSender("ops-mail", TO, smtp).deliver(notification())
    assert "TLS failed" in caught.value.message and mailbox.messages == []


def test_a_cr_lf_in_the_title_neither_adds_a_header_nor_loses_the_mail(server: Server) -> None:
    mailbox, smtp, tls = server
    page = notification(detail="x")
    hostile = dataclasses.replace(
        page, message=dataclasses.replace(page.message, title="disk\r\nBcc: evil@example.com")
    )
    EmailSender("ops-mail", TO, smtp, tls_context=tls).deliver(hostile)
    (mail,) = mailbox.messages
    assert mail["Subject"] == "[P1 emergency] Triggered: disk Bcc: evil@example.com"
    assert mail["Bcc"] is None and mailbox.recipients == [["ops@example.com"]]

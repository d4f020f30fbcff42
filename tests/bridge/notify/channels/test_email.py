from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import DeliveryFailed
from bridge.notify.channels import Notification
from bridge.notify.channels.email import EmailSender, SmtpSettings
from tests.bridge.notify.sample import notification
from tests.bridge.notify.smtpserver import PASSWORD, USER, Mailbox, smtp_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Mailbox, SmtpSettings]]:
    with smtp_server(tmp_path) as (mailbox, port, cafile):
        settings = SmtpSettings(
            host="127.0.0.1", port=port, sender="tocsin@example.com",
            username=USER, password=PASSWORD, cafile=str(cafile), timeout=5,
        )  # fmt: skip
        yield mailbox, settings


def test_mail_arrives_over_starttls_after_login_with_text_and_html(
    server: tuple[Mailbox, SmtpSettings],
) -> None:
    mailbox, settings = server
    EmailSender("ops-mail", {"to": ["ops@example.com"]}, settings).deliver(notification())
    mail = mailbox.messages[0]
    assert mailbox.logins == [(USER, PASSWORD)] and mailbox.recipients == [["ops@example.com"]]
    assert mail["Subject"] == "[P1 emergency] Triggered: 磁盘空间不足 on db-1"
    assert mail["Message-ID"] == "<ev1-ops-carol@tocsin>"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and "Summary: /var 使用率 97%" in text.get_content()
    assert html is not None and 'href="https://oncall.example.com/ack/TOKEN"' in html.get_content()


def test_a_person_paged_by_mail_gets_it_at_their_address(
    server: tuple[Mailbox, SmtpSettings],
) -> None:
    mailbox, settings = server
    page = notification()
    person = Notification(
        key=page.key, body=page.body, message=page.message, to=("carol@example.com",)
    )
    EmailSender("email", {}, settings).deliver(person)
    assert mailbox.recipients == [["carol@example.com"]]


def test_a_wrong_password_fails_without_echoing_it(server: tuple[Mailbox, SmtpSettings]) -> None:
    _, settings = server
    wrong = SmtpSettings(**{**settings.__dict__, "password": "WrongPassword77"})
    with pytest.raises(DeliveryFailed) as caught:
        EmailSender("ops-mail", {"to": ["ops@example.com"]}, wrong).deliver(notification())
    assert "login as 'tocsin' refused" in caught.value.message
    assert "WrongPassword77" not in caught.value.message and "WrongPassword77" not in repr(wrong)


def test_an_untrusted_certificate_is_refused(server: tuple[Mailbox, SmtpSettings]) -> None:
    mailbox, settings = server
    untrusting = SmtpSettings(**{**settings.__dict__, "cafile": None})
    with pytest.raises(DeliveryFailed) as caught:
        EmailSender("ops-mail", {"to": ["ops@example.com"]}, untrusting).deliver(notification())
    assert "TLS failed" in caught.value.message and mailbox.messages == []

"""Machine mail is told from a person's, and a reply finds its incident."""

from __future__ import annotations

import pytest

from tests.bridge.mailin.mails import dsn, mail
from tocsin.bridge.mailin.loops import machine_reason, thread_incident
from tocsin.bridge.mailin.parse import read_mail


def reason(raw: bytes, envelope: str | None = "wang.li@customer.example.com") -> str | None:
    return machine_reason(read_mail(raw, 1 << 20), envelope)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_submitted"),
        ({"Auto-Submitted": "auto-generated (vacation)"}, "auto_submitted"),
        ({"Auto-Submitted": "no"}, None),
        ({"Precedence": "bulk"}, "precedence"),
        ({"Precedence": "junk"}, "precedence"),
        ({"Precedence": "list"}, "precedence"),
        ({"X-Autoreply": "yes"}, "autoreply"),
        ({"X-Autorespond": "Out of office"}, "autoreply"),
        ({"List-Id": "<ops.lists.example.com>"}, "list"),
        ({"Return-Path": "<>"}, "bounce"),
        ({}, None),
    ],
)
def test_machine_mail_is_named_by_its_headers(
    headers: dict[str, str], expected: str | None
) -> None:
    envelope = None if "Return-Path" in headers else "wang.li@customer.example.com"
    assert reason(mail(headers=headers), envelope) == expected


@pytest.mark.parametrize("envelope", ["<>", "", "MAILER-DAEMON@mx.example.com"])
def test_a_null_or_daemon_envelope_sender_is_a_bounce(envelope: str) -> None:
    assert reason(mail(), envelope) == "bounce"


def test_a_delivery_status_report_is_a_dsn() -> None:
    assert reason(dsn(), "someone@example.com") == "bounce"  # From: MAILER-DAEMON
    assert reason(dsn().replace(b"MAILER-DAEMON", b"relay"), "someone@example.com") == "dsn"


def test_a_bridge_mail_that_came_back_is_its_own() -> None:
    own = mail(message_id="<tocsin.12.receipt.f00d@tocsin>")
    assert reason(own) == "own_mail"


@pytest.mark.parametrize(
    ("ids", "subject", "expected"),
    [
        (("<abc@client>", "<tocsin.42.update.9f8e@tocsin>"), "Re: hello", 42),
        (("<tocsin.42.update.9f8e@other.example.com>",), "Re: another bridge's", None),
        ((), "Re: [#7] Payroll down", 7),
        (("<tocsin.5.receipt.aa@tocsin>",), "Re: [#7] mixed", 5),
        (("<tocsin.x.receipt.aa@tocsin>",), "Re: no tag", None),
        ((), "Payroll down #7", None),
    ],
)
def test_a_reply_finds_its_incident(
    ids: tuple[str, ...], subject: str, expected: int | None
) -> None:
    assert thread_incident(ids, subject) == expected


def test_the_configured_domain_is_the_bridges() -> None:
    ids = ("<tocsin.7.receipt.aa@desk.example.com>",)
    assert thread_incident(ids, "Re: x", "desk.example.com") == 7
    assert thread_incident(ids, "Re: x") is None

"""Whatever bytes arrive, reading them gives a mail or a refusal: never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bridge.mailin.mails import dsn, mail, malformed, with_attachment
from tocsin.bridge.errors import MailRefused
from tocsin.bridge.mailin.loops import machine_reason, thread_incident
from tocsin.bridge.mailin.parse import parse_mail, read_mail, unreadable_is_refused

SEEDS = [
    mail(),
    mail("紧急", "今天", charset="gb18030"),
    mail("緊急", "今天", charset="big5", subtype="html"),
    with_attachment(),
    malformed(),
    dsn(),
]


def read(raw: bytes) -> None:
    try:
        with unreadable_is_refused():
            message = read_mail(raw, 1 << 20)
            machine_reason(message, None)
            found = parse_mail(message)
            thread_incident(found.thread_ids, found.subject)
    except MailRefused:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SEEDS), st.integers(min_value=0), st.binary(max_size=40))
def test_a_damaged_mail_is_read_or_refused(seed: bytes, at: int, noise: bytes) -> None:
    cut = at % (len(seed) + 1)
    read(seed[:cut] + noise + seed[cut + len(noise) :])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_read_or_refused(raw: bytes) -> None:
    read(raw)

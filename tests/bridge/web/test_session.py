from __future__ import annotations

from datetime import timedelta

from tests.bridge.helpers import T0
from tocsin.bridge.web.session import csrf_matches, decode_session, encode_session, new_session

SECRET = b"k" * 32


def test_a_signed_session_reads_back() -> None:
    session = new_session(T0, "alice", "tag")
    assert decode_session(encode_session(session, SECRET), SECRET, T0) == session


def test_a_tampered_session_is_refused() -> None:
    cookie = encode_session(new_session(T0, "alice"), SECRET)
    body, _, signature = cookie.partition(".")
    forged = encode_session(new_session(T0, "mallory"), b"other key").split(".")[0]
    assert decode_session(f"{forged}.{signature}", SECRET, T0) is None
    assert decode_session(f"{body}.{signature[:-2]}xx", SECRET, T0) is None


def test_a_session_signed_with_another_key_is_refused() -> None:
    cookie = encode_session(new_session(T0, "alice"), b"other key")
    assert decode_session(cookie, SECRET, T0) is None


def test_an_expired_session_is_refused() -> None:
    cookie = encode_session(new_session(T0, "alice"), SECRET)
    assert decode_session(cookie, SECRET, T0 + timedelta(hours=13)) is None


def test_csrf_must_equal_the_session_token() -> None:
    session = new_session(T0)
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, "guess")
    assert not csrf_matches(session, None)
    assert not csrf_matches(None, session.csrf)

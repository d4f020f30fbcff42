from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine

from tests.bridge.notify.sample import NOW
from tocsin.bridge.notify.links import LinkRejected, consume, sign_ack, verify_ack
from tocsin.bridge.store.schema import metadata

KEY = "k" * 32


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlite_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_signed_link_names_its_incident_and_person() -> None:
    claim = verify_ack(KEY, sign_ack(KEY, incident_id=42, person="张伟", now=NOW), NOW)
    assert (claim.incident_id, claim.person) == (42, "张伟")


def test_a_link_signed_with_another_key_is_tampered() -> None:
    token = sign_ack("other" * 8, incident_id=42, person="carol", now=NOW)
    with pytest.raises(LinkRejected) as caught:
        verify_ack(KEY, token, NOW)
    assert caught.value.reason == "tampered"


def test_a_link_with_an_edited_claim_is_tampered() -> None:
    good = sign_ack(KEY, incident_id=42, person="carol", now=NOW)
    forged = sign_ack(KEY, incident_id=43, person="carol", now=NOW).split(".")[0]
    with pytest.raises(LinkRejected) as caught:
        verify_ack(KEY, f"{forged}.{good.split('.')[1]}", NOW)
    assert caught.value.reason == "tampered"


def test_a_link_past_its_lifetime_is_expired() -> None:
    token = sign_ack(KEY, incident_id=42, person="carol", now=NOW, ttl=timedelta(minutes=10))
    verify_ack(KEY, token, NOW + timedelta(minutes=9))
    with pytest.raises(LinkRejected) as caught:
        verify_ack(KEY, token, NOW + timedelta(minutes=10))
    assert (caught.value.reason, caught.value.http_status) == ("expired", 410)


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "!!!.###"])
def test_garbage_is_not_a_link(token: str) -> None:
    with pytest.raises(LinkRejected) as caught:
        verify_ack(KEY, token, NOW)
    assert caught.value.reason in ("invalid", "tampered")


def test_a_link_works_only_once(engine: Engine) -> None:
    claim = verify_ack(KEY, sign_ack(KEY, incident_id=42, person="carol", now=NOW), NOW)
    with engine.begin() as conn:
        consume(conn, claim, NOW)
    with engine.begin() as conn, pytest.raises(LinkRejected) as caught:
        consume(conn, claim, NOW)
    assert caught.value.reason == "replayed"

from __future__ import annotations

from tocsin.bridge.ingest.identity import fingerprint, group_key


def test_fingerprint_ignores_label_order() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})


def test_fingerprint_differs_when_a_value_differs() -> None:
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})


def test_group_key_uses_only_group_by_labels() -> None:
    by = ("alertname", "instance")
    assert group_key({"alertname": "X", "instance": "h", "device": "sda"}, by) == group_key(
        {"alertname": "X", "instance": "h", "device": "sdb"}, by
    )


def test_group_key_without_group_by_is_the_fingerprint() -> None:
    assert group_key({"a": "1"}, None) == fingerprint({"a": "1"})

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.bridge.errors import InvalidInput, MalformedInput, PayloadTooLarge
from tocsin.bridge.ingest.parse import load_json, parse_v2, parse_webhook

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_nanosecond_times_from_go_are_accepted() -> None:
    parsed = parse_v2(
        [{"labels": {"a": "b"}, "startsAt": "2026-03-02T08:00:00.123456789Z"}], NOW, 10
    )
    assert parsed.alerts[0].starts_at == datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


def test_webhook_zero_end_time_means_firing() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": {"a": "b"}, "endsAt": "0001-01-01T00:00:00Z"}],
        "notification_reason": "new",
    }
    assert parse_webhook(payload, NOW, 10).alerts[0].ends_at is None


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"labels": {}}, "[0].labels"),
        ({"labels": {"a": 1}}, "[0].labels.a"),
        ({"labels": {"a": "b"}, "startsAt": "yesterday"}, "[0].startsAt"),
        (
            {
                "labels": {"a": "b"},
                "startsAt": "2026-03-02T09:00:00Z",
                "endsAt": "2026-03-02T08:00:00Z",
            },
            "[0].endsAt",
        ),
        ("not an object", "[0]"),
    ],
)
def test_invalid_alert_is_named_and_others_kept(item: object, field: str) -> None:
    parsed = parse_v2([item, {"labels": {"ok": "yes"}}], NOW, 10)
    assert [r.field for r in parsed.rejected] == [field]
    assert len(parsed.alerts) == 1


def test_deep_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedInput):
        load_json(b"[" * 100_000 + b"]" * 100_000)


def test_too_many_alerts_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_v2([{"labels": {"a": "b"}}] * 11, NOW, 10)


def test_v2_body_must_be_a_list() -> None:
    with pytest.raises(InvalidInput):
        parse_v2({"labels": {}}, NOW, 10)

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.ingest.rules import Known, Outcome, decide

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T1 = NOW - timedelta(minutes=30)
T2 = NOW - timedelta(minutes=20)
T3 = NOW - timedelta(minutes=10)


def firing(starts: datetime) -> Alert:
    return Alert({"alertname": "X"}, {}, starts, None)


def ended(starts: datetime, ends: datetime) -> Alert:
    return Alert({"alertname": "X"}, {}, starts, ends)


@pytest.mark.parametrize(
    ("known", "alert", "outcome"),
    [
        (None, firing(T1), Outcome.OPEN),
        (None, ended(T1, T2), Outcome.IGNORE),
        (Known("firing", T1, None, True), firing(T1), Outcome.REFRESH),
        (Known("firing", T1, None, True), ended(T1, T2), Outcome.RESOLVE),
        (Known("firing", T2, None, True), ended(T1, T2), Outcome.IGNORE),
        (Known("resolved", T1, T2, False), firing(T1), Outcome.IGNORE),
        (Known("resolved", T1, T2, False), firing(T3), Outcome.OPEN),
        (Known("resolved", T1, T2, False), ended(T1, T2), Outcome.REFRESH),
        (Known("firing", T1, None, False), firing(T1), Outcome.REFRESH),
        (Known("firing", T1, None, False), firing(T3), Outcome.OPEN),
    ],
    ids=[
        "new-firing-opens",
        "unknown-resolve-ignored",
        "resend-refreshes",
        "resolve-resolves",
        "older-episode-resolve-ignored",
        "stale-firing-after-resolve-ignored",
        "newer-firing-after-resolve-opens",
        "duplicate-resolve-refreshes",
        "resend-after-manual-resolve-does-not-reopen",
        "newer-start-after-manual-resolve-opens",
    ],
)
def test_decide(known: Known | None, alert: Alert, outcome: Outcome) -> None:
    assert decide(known, alert, NOW) is outcome


def test_future_ends_at_means_still_firing() -> None:
    alert = ended(T1, NOW + timedelta(minutes=3))
    assert decide(None, alert, NOW) is Outcome.OPEN

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.ingest.rules import Known, Outcome, decide

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T1 = NOW - timedelta(minutes=30)
T2 = NOW - timedelta(minutes=20)
T3 = NOW - timedelta(minutes=10)
TOLERANCE = timedelta(minutes=10)


def firing(starts: datetime) -> Alert:
    return Alert({"alertname": "X"}, {}, starts, None)


def ended(starts: datetime, ends: datetime) -> Alert:
    return Alert({"alertname": "X"}, {}, starts, ends, ended=True)


@pytest.mark.parametrize(
    ("known", "alert", "outcome"),
    [
        (None, firing(T1), Outcome.OPENED),
        (None, ended(T1, T2), Outcome.UNKNOWN_RESOLVE),
        (Known("firing", T1, None, True), firing(T1), Outcome.REFRESHED),
        (Known("firing", T1, None, True), firing(T2), Outcome.REFRESHED),
        (Known("firing", T1, None, True), ended(T1, T2), Outcome.RESOLVED),
        (Known("firing", T2, None, True), ended(T1, T3), Outcome.RESOLVED),
        (Known("firing", T3, None, True), ended(T1, T2), Outcome.STALE),
        (Known("resolved", T1, T2, False), firing(T1), Outcome.STALE),
        (Known("resolved", T1, T2, False), firing(T3), Outcome.OPENED),
        (Known("resolved", T2, T3, False), firing(T1), Outcome.STALE),
        (Known("resolved", T2, T3, False), firing(T3 - timedelta(minutes=9)), Outcome.OPENED),
        (Known("resolved", T1, T2, False), ended(T1, T2), Outcome.DUPLICATE),
        (Known("firing", T1, None, False), firing(T1), Outcome.REFRESHED),
        (Known("firing", T1, None, False), firing(T3), Outcome.OPENED),
    ],
    ids=[
        "new-firing-opens",
        "resolve-of-an-unknown-alert",
        "resend-refreshes",
        "later-start-of-a-firing-episode-refreshes",
        "resolve-resolves",
        "resolve-from-a-peer-with-an-earlier-start-resolves",
        "resolve-that-ended-before-the-episode-began-is-stale",
        "stale-firing-after-resolve",
        "newer-firing-after-resolve-opens",
        "firing-long-before-the-resolve-is-stale",
        "firing-just-before-the-resolve-from-a-slow-clock-opens",
        "duplicate-resolve",
        "resend-after-manual-resolve-does-not-reopen",
        "newer-start-after-manual-resolve-opens",
    ],
)
def test_decide(known: Known | None, alert: Alert, outcome: Outcome) -> None:
    assert decide(known, alert, TOLERANCE) is outcome

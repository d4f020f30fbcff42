"""The failed sign-in throttle: free tries, then doubling waits, per account and per address."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.bridge.helpers import T0
from tocsin.bridge.accounts.throttle import ACCOUNT_FREE, BASE, CAP, FORGET_AFTER, Throttle, backoff


@pytest.mark.parametrize(
    ("failures", "wait"),
    [
        (ACCOUNT_FREE - 1, timedelta(0)),
        (ACCOUNT_FREE, BASE),
        (ACCOUNT_FREE + 2, BASE * 4),
        (99, CAP),
    ],
)
def test_backoff_doubles_after_the_free_tries_up_to_a_cap(failures: int, wait: timedelta) -> None:
    assert backoff(failures, ACCOUNT_FREE) == wait


def test_an_account_waits_after_its_free_failures_and_a_success_clears_it() -> None:
    throttle = Throttle()
    keys = {"account:ann": ACCOUNT_FREE}
    for _ in range(ACCOUNT_FREE):
        throttle.failed(list(keys), T0)
    assert throttle.wait(keys, T0) == BASE
    assert throttle.wait(keys, T0 + BASE) == timedelta(0)
    throttle.succeeded("account:ann")
    assert throttle.wait(keys, T0) == timedelta(0)


def test_a_quiet_hour_forgets_failures() -> None:
    throttle = Throttle()
    keys = {"address:10.0.0.1": 1}
    throttle.failed(list(keys), T0)
    throttle.failed(list(keys), T0)
    assert throttle.wait(keys, T0) > timedelta(0)
    assert throttle.wait(keys, T0 + FORGET_AFTER) == timedelta(0)

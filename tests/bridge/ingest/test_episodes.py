"""The episode rules through both routes on SQLite and PostgreSQL, in every order of arrival."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bridge.helpers import T0 as NOW
from tests.bridge.ingest.senders import ROUTES, Bridge, Message, bridge_on

T0 = NOW - timedelta(minutes=30)
T1 = NOW - timedelta(minutes=20)
T2 = NOW - timedelta(minutes=10)
REPEATS = 3


@pytest.fixture
def bridge(database_url: str) -> Iterator[Bridge]:
    with bridge_on(database_url) as built:
        yield built


def reproduction(name: str) -> list[Message]:
    """Issue #13 item 2: firing T0, resolved T0 (at T1), a stale firing T0, firing T2."""
    labels = {"alertname": name, "instance": "db1"}
    return [
        Message(labels, T0),
        Message(labels, T0, ends=T1),
        Message(labels, T0),
        Message(labels, T2),
    ]


@pytest.mark.parametrize("route", ROUTES)
def test_every_order_ends_in_the_newest_episode_firing(bridge: Bridge, route: str) -> None:
    finals = set()
    for repeat, order in itertools.product(range(REPEATS), itertools.permutations(range(4))):
        messages = reproduction(f"Order{repeat}-{''.join(map(str, order))}")
        for n in order:
            bridge.send(route, [messages[n]])
        labels = messages[0].labels
        finals.add((bridge.state(labels), bridge.open_incidents(labels)))
    assert finals == {(("firing", T2, "triggered"), 1)}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    order=st.permutations(range(4)),
    routes=st.lists(st.sampled_from(ROUTES), min_size=4, max_size=4),
    cuts=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_any_mix_of_routes_and_batches_ends_in_the_newest_episode_firing(
    bridge: Bridge, order: list[int], routes: list[str], cuts: list[bool]
) -> None:
    """HA pairs: each message through either route, consecutive ones sometimes in one request."""
    bridge.clock.advance(1)  # a fresh identity per example: the label set names the moment
    messages = reproduction(f"Mix{bridge.clock().isoformat()}")
    batches: list[tuple[str, list[Message]]] = []
    for position, n in enumerate(order):
        joins = position > 0 and not cuts[position - 1] and batches[-1][0] == routes[position]
        if joins:
            batches[-1][1].append(messages[n])
        else:
            batches.append((routes[position], [messages[n]]))
    for route, batch in batches:
        bridge.send(route, batch)
    labels = messages[0].labels
    assert bridge.state(labels) == ("firing", T2, "triggered")
    assert bridge.open_incidents(labels) == 1


@pytest.mark.parametrize("route", ROUTES)
def test_a_late_resolve_of_an_older_episode_leaves_the_newer_one_firing(
    bridge: Bridge, route: str
) -> None:
    f0, r0, _, f2 = reproduction("Late")
    bridge.send(route, [f0])
    bridge.send(route, [f2])
    result = bridge.send(route, [r0])
    assert result["not_stored"] == [{"index": 0, "outcome": "stale"}]
    assert bridge.state(f0.labels) == ("firing", T2, "triggered")


@pytest.mark.parametrize("route", ROUTES)
def test_a_stale_firing_after_a_resolve_never_reopens(bridge: Bridge, route: str) -> None:
    f0, r0, stale, _ = reproduction("Stale")
    bridge.send(route, [f0])
    bridge.send(route, [r0])
    result = bridge.send(route, [stale])
    assert result["outcomes"]["stale"] == 1  # type: ignore[index]
    assert bridge.state(f0.labels) == ("resolved", T0, "resolved")


@pytest.mark.parametrize("route", ROUTES)
def test_a_new_firing_after_a_resolve_opens_a_new_incident(bridge: Bridge, route: str) -> None:
    f0, r0, _, f2 = reproduction("Again")
    bridge.send(route, [f0])
    bridge.send(route, [r0])
    result = bridge.send(route, [f2])
    assert (result["opened"], result["outcomes"]["opened"]) == (1, 1)  # type: ignore[index]
    assert bridge.state(f0.labels) == ("firing", T2, "triggered")


@pytest.mark.parametrize("route", ROUTES)
def test_the_surviving_peers_resolve_after_a_failover_resolves(bridge: Bridge, route: str) -> None:
    """Issue #13 item 3: each peer stamped its own startsAt; the one that opened is gone."""
    labels = {"alertname": "Failover", "instance": "db1"}
    stamped_by_a, stamped_by_b = T1, T1 - timedelta(seconds=3)
    bridge.send(route, [Message(labels, stamped_by_a)])  # peer A opens
    bridge.send(route, [Message(labels, stamped_by_b)])  # peer B repeats with its own start
    result = bridge.send(route, [Message(labels, stamped_by_b, ends=T2)])  # only B is left
    assert (result["resolved"], result["not_stored"]) == (1, [])
    assert bridge.state(labels) == ("resolved", stamped_by_a, "resolved")


@pytest.mark.parametrize("route", ROUTES)
def test_a_resolve_from_a_peer_never_heard_firing_still_resolves(
    bridge: Bridge, route: str
) -> None:
    labels = {"alertname": "Failover", "instance": "db2"}
    bridge.send(route, [Message(labels, T1)])
    bridge.send(route, [Message(labels, T1 - timedelta(seconds=3), ends=T2)])
    assert bridge.state(labels) == ("resolved", T1, "resolved")

"""systemd notifications reach a real datagram socket, or nowhere when systemd is not listening."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import NotifySocket
from tocsin.common.sdnotify import Notifier


def test_ready_reaches_an_abstract_socket(notify_socket: NotifySocket) -> None:
    address = notify_socket.address
    assert Notifier({"NOTIFY_SOCKET": address}).ready()
    assert notify_socket.received(1)[0].splitlines()[0] == "READY=1"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert (notifier.enabled, notifier.ready()) == (False, False)


def test_a_vanished_socket_is_reported_not_raised() -> None:
    assert not Notifier({"NOTIFY_SOCKET": f"@tocsin-absent-{uuid.uuid4().hex}"}).watchdog()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_period_is_read_for_this_process_only(
    environ: dict[str, str], expected: float | None
) -> None:
    assert Notifier(environ, pid=4242).watchdog_seconds == expected


def test_ready_names_the_main_pid_and_an_optional_status(
    notify_socket: NotifySocket,
) -> None:
    address = notify_socket.address
    assert Notifier({"NOTIFY_SOCKET": address}, pid=4242).ready("serving")
    assert notify_socket.received(1)[0].splitlines() == [
        "READY=1",
        "MAINPID=4242",
        "STATUS=serving",
    ]


def test_reloading_and_stopping_are_single_lines(notify_socket: NotifySocket) -> None:
    address = notify_socket.address
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.reloading() and notifier.stopping()
    assert notify_socket.received(2) == ["RELOADING=1", "STOPPING=1"]


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000"}, None),
        ({"NOTIFY_SOCKET": "@x"}, None),
    ],
)
def test_a_main_loop_pings_twice_per_period_only_under_a_watchdog(
    environ: dict[str, str], interval: float | None
) -> None:
    assert Notifier(environ).watchdog_interval == interval


def test_no_watchdog_ping_is_sent_when_systemd_asked_for_none(
    notify_socket: NotifySocket,
) -> None:
    address = notify_socket.address
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert not notifier.watchdog()
    assert notifier.stopping()
    assert notify_socket.received(1) == ["STOPPING=1"]

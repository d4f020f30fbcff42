"""Bytes each network interface received and sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

import psutil

from tocsin.agent.collectors.base import DeviceLabels, Reading, attempt
from tocsin.agent.sample import Series

RECEIVE = "tocsin_network_receive_bytes_total"
TRANSMIT = "tocsin_network_transmit_bytes_total"

HELP = {
    RECEIVE: "Bytes the network interface received.",
    TRANSMIT: "Bytes the network interface sent.",
}

# Loopback traffic is the host talking to itself; it says nothing about the network.
DEFAULT_EXCLUDED_INTERFACES = r"^lo$"


class NetIO(Protocol):
    """The fields of one entry of psutil.net_io_counters(pernic=True) this collector reads."""

    @property
    def bytes_recv(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...


class NetStats(NamedTuple):
    """The byte counters of one line of /proc/net/dev, in psutil's field names."""

    bytes_recv: int
    bytes_sent: int


def default_net_io_counters(path: str = "/proc/net/dev") -> Mapping[str, NetIO]:
    """Read every interface's byte counters from /proc/net/dev, or through psutil elsewhere.

    psutil parses all sixteen counters and keeps wrap-around bookkeeping; two are needed.
    """
    try:
        with open(path) as file:
            lines = file.read().splitlines()
    except FileNotFoundError:
        return psutil.net_io_counters(pernic=True, nowrap=False)
    interfaces: dict[str, NetIO] = {}
    for line in lines[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if len(fields) >= 9:
            interfaces[name.strip()] = NetStats(int(fields[0]), int(fields[8]))
    return interfaces


class NetworkCollector:
    """Read per-interface byte counters; rates are left to Prometheus and the rules."""

    def __init__(
        self,
        net_io_counters: Callable[[], Mapping[str, NetIO]] = default_net_io_counters,
        exclude_interfaces: str | None = DEFAULT_EXCLUDED_INTERFACES,
        include_interfaces: str | None = None,
    ) -> None:
        self._net_io_counters = net_io_counters
        self._labels_of = DeviceLabels(exclude_interfaces, include_interfaces)

    def collect(self, reading: Reading) -> None:
        """Append the receive and transmit counters of every kept interface."""
        interfaces = attempt(self._net_io_counters, "network counters", reading)
        if not interfaces:
            return
        counters, labels_of = reading.counters, self._labels_of
        for device, io in interfaces.items():
            labels = labels_of(device)
            if labels is None:
                continue
            counters.append(Series(RECEIVE, labels, float(io.bytes_recv)))
            counters.append(Series(TRANSMIT, labels, float(io.bytes_sent)))

"""Bytes each network interface received and sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

import psutil

from tocsin.agent.collectors.base import DeviceLabels, LastSeries, Reading, attempt
from tocsin.agent.sample import Series

RECEIVE = "tocsin_network_receive_bytes_total"
TRANSMIT = "tocsin_network_transmit_bytes_total"
# node_exporter's netdev names, in the order of NetStats' error fields.
ERRORS = (
    ("errin", "tocsin_network_receive_errs_total", "Receive errors on the interface."),
    ("errout", "tocsin_network_transmit_errs_total", "Transmit errors on the interface."),
    ("dropin", "tocsin_network_receive_drop_total", "Received packets the interface dropped."),
    ("dropout", "tocsin_network_transmit_drop_total", "Packets to send the interface dropped."),
)
_RECEIVE_ERRS, _TRANSMIT_ERRS, _RECEIVE_DROP, _TRANSMIT_DROP = (name for _, name, _ in ERRORS)

HELP = {
    RECEIVE: "Bytes the network interface received.",
    TRANSMIT: "Bytes the network interface sent.",
    **{name: text for _, name, text in ERRORS},
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
    """The counters of one line of /proc/net/dev the agent exports, in psutil's field names."""

    bytes_recv: int
    bytes_sent: int
    errin: int = 0
    errout: int = 0
    dropin: int = 0
    dropout: int = 0


def default_net_io_counters(path: str = "/proc/net/dev") -> Mapping[str, NetIO]:
    """Read every interface's byte counters from /proc/net/dev, or through psutil elsewhere.

    psutil parses all sixteen counters and keeps wrap-around bookkeeping; six are needed.
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
            # A line cut short (fewer than sixteen counters) raises: a garbled file.
            interfaces[name.strip()] = NetStats(
                int(fields[0]),
                int(fields[8]),
                int(fields[2]),
                int(fields[10]),
                int(fields[3]),
                int(fields[11]),
            )
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
        self._last = LastSeries()

    def collect(self, reading: Reading) -> None:
        """Append the receive and transmit counters of every kept interface."""
        interfaces = attempt(self._net_io_counters, "network counters", reading)
        if not interfaces:
            return
        counters, labels_of = reading.counters, self._labels_of
        last = self._last
        last.begin()
        for device, io in interfaces.items():
            labels = labels_of(device)
            if labels is None:
                continue
            if type(io) is NetStats:
                counters += last.series(device, io, labels, _series, io, labels)
                continue
            counters.append(Series(RECEIVE, labels, float(io.bytes_recv)))
            counters.append(Series(TRANSMIT, labels, float(io.bytes_sent)))
            # psutil's snetio and NetStats carry the error and drop counters; a bare NetIO not.
            for field, name, _ in ERRORS:
                value = getattr(io, field, None)
                if value is not None:
                    counters.append(Series(name, labels, float(value)))
        last.end()


def _series(io: NetStats, labels: dict[str, str]) -> tuple[Series, ...]:
    """Return the six series of one interface's reading from /proc/net/dev."""
    received, sent, errin, errout, dropin, dropout = io
    return (
        Series(RECEIVE, labels, float(received)),
        Series(TRANSMIT, labels, float(sent)),
        Series(_RECEIVE_ERRS, labels, float(errin)),
        Series(_TRANSMIT_ERRS, labels, float(errout)),
        Series(_RECEIVE_DROP, labels, float(dropin)),
        Series(_TRANSMIT_DROP, labels, float(dropout)),
    )

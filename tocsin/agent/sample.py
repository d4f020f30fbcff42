"""One sampling pass of a host: the values the exporter publishes and the rules read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, init=False)
class Series:
    """One value of a metric for one label set, e.g. tocsin_filesystem_used_ratio{mountpoint="/"}.

    Collectors make thousands a pass on a large host and pass the same label dict pass after
    pass; the exposition keys its rendered lines on that dict's identity.
    """

    name: str
    labels: Mapping[str, str]
    value: float

    def __init__(self, name: str, labels: Mapping[str, str], value: float) -> None:
        # Frozen all the same: filling __dict__ directly costs 40 % of the generated
        # __init__'s object.__setattr__ per field.
        self.__dict__.update(name=name, labels=labels, value=value)


@dataclass(frozen=True)
class Sample:
    """Everything one pass measured; counters are cumulative, gauges are rates and ratios.

    The first pass of a sampler has counters only: rates need two readings.
    """

    taken_at: float
    gauges: tuple[Series, ...] = ()
    counters: tuple[Series, ...] = ()
    duration_seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def gauge(self, name: str) -> Iterator[Series]:
        """Yield the series of one gauge, in the order the sampler produced them."""
        return (series for series in self.gauges if series.name == name)

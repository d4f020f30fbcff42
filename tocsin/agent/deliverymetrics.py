"""What delivery costs and loses, as metrics: for /metrics, and for the agent's own rules.

The gauges here are also offered to rule evaluation (`with_delivery_gauges`), so the bundled
rules can watch the agent itself (a stalled queue, refused alerts, a refused token) exactly as
the exported Prometheus rules do, from the same series.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tocsin.agent.pusher import Pusher
from tocsin.agent.rules import GAUGES
from tocsin.agent.sample import Sample, Series

# The help text of each gauge a rule may read about delivery; its labels are in rules.GAUGES.
GAUGE_HELP: Mapping[str, str] = {
    "tocsin_agent_spool_oldest_age_seconds": (
        "Seconds the oldest undelivered alert transition has waited; 0 when none waits."
    ),
    "tocsin_agent_dead_letters": (
        "Alerts in the dead-letter file, by the receiver's refusal (http_<status>)."
    ),
    "tocsin_agent_receiver_auth_failed": (
        "1 while the receiver refuses the agent's credentials (401/403), else 0."
    ),
}


def delivery_gauges(pushers: Sequence[Pusher], now: float) -> tuple[Series, ...]:
    """Return the delivery gauges at `now`, over every receiver: the worst of each."""
    oldest = min(
        (at for pusher in pushers if (at := pusher.spool.oldest_written_at()) is not None),
        default=None,
    )
    series = [
        Series(
            "tocsin_agent_spool_oldest_age_seconds",
            {},
            0.0 if oldest is None else max(0.0, now - oldest),
        ),
        Series(
            "tocsin_agent_receiver_auth_failed",
            {},
            1.0 if any(pusher.auth_failing for pusher in pushers) else 0.0,
        ),
    ]
    reasons: Counter[str] = Counter(
        letter.reason for pusher in pushers for letter in pusher.dead_letters.letters()
    )
    series += [
        Series("tocsin_agent_dead_letters", {"reason": reason}, float(count))
        for reason, count in sorted(reasons.items())
    ]
    return tuple(series)


def with_delivery_gauges(sample: Sample, pushers: Sequence[Pusher], now: float) -> Sample:
    """Return the sample the rules read: the host's gauges plus the delivery gauges."""
    if not pushers:
        return sample
    return replace(sample, gauges=sample.gauges + delivery_gauges(pushers, now))


def _summed(counts: Iterable[Mapping[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for one in counts:
        total.update(one)
    return total


class DeliveryCollector(Collector):
    """Yield the delivery metrics of the pushers running now, summed (none when not pushing)."""

    def __init__(
        self, pushers: Callable[[], Sequence[Pusher]], clock: Callable[[], float] = time.time
    ) -> None:
        self._pushers = pushers
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        """Yield one family per delivery metric."""
        pushers = self._pushers()
        if not pushers:
            return
        gauges = delivery_gauges(pushers, self._clock())
        for name, documentation in GAUGE_HELP.items():
            labels = GAUGES[name]
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for series in gauges:
                if series.name == name:
                    family.add_metric([series.labels[label] for label in labels], series.value)
            yield family
        up = GaugeMetricFamily(
            "tocsin_agent_receiver_up",
            "1 while the receiver takes what the agent sends, 0 after a push or heartbeat to it "
            "failed (unreachable, TLS, 5xx, refused credentials), by receiver name.",
            labels=["receiver"],
        )
        for pusher in pushers:
            up.add_metric([pusher.receiver.name], 1.0 if pusher.reachable else 0.0)
        yield up
        spools = [pusher.spool for pusher in pushers]
        yield _gauge(
            "tocsin_agent_spool_alerts",
            "Alert transitions waiting to be sent.",
            sum(spool.pending_alerts() for spool in spools),
        )
        yield _gauge(
            "tocsin_agent_spool_memory_entries",
            "Spool entries held in memory because the disk refused to store them.",
            sum(spool.memory_held for spool in spools),
        )
        yield _gauge(
            "tocsin_agent_spool_quarantined_entries",
            "Damaged spool entries kept in the spool's quarantine/ directory.",
            sum(len(spool.quarantined()) for spool in spools),
        )
        yield _counter(
            "tocsin_agent_alerts_dropped",
            "Alert transitions the spool dropped, by reason (full, no_space, damaged).",
            _summed(spool.alerts_dropped for spool in spools),
        )
        yield _counter(
            "tocsin_agent_alerts_dead_lettered",
            "Alerts the receiver refused, written to the dead-letter file, by reason.",
            _summed(pusher.dead_letters.counted for pusher in pushers),
        )
        yield _counter(
            "tocsin_agent_dead_letters_evicted",
            "Dead letters removed to keep the file within spool.dead_letters entries.",
            {"": sum(pusher.dead_letters.evicted_total for pusher in pushers)},
        )
        yield _counter(
            "tocsin_agent_alerts_collapsed",
            "Waiting firing transitions never sent because their resolution came first.",
            {"": sum(spool.collapsed_total for spool in spools)},
        )
        yield _counter(
            "tocsin_agent_alerts_withheld",
            "Alerts left out of a push because the receiver refused them as they are.",
            {"": sum(pusher.withheld_total for pusher in pushers)},
        )
        yield _counter(
            "tocsin_agent_alerts_sent",
            "Alerts the receiver accepted.",
            {"": sum(pusher.alerts_sent_total for pusher in pushers)},
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric((), value)
    return family


def _counter(name: str, documentation: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    """Build a counter; the key '' is the one unlabelled series, others are `reason` values."""
    if set(counts) == {""}:
        family = CounterMetricFamily(name, documentation)
        family.add_metric((), counts[""])
        return family
    family = CounterMetricFamily(name, documentation, labels=["reason"])
    for reason, count in sorted(counts.items()):
        family.add_metric([reason], count)
    return family

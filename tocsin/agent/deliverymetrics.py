"""What delivery costs and loses, as metrics: for /metrics, and for the agent's own rules.

The gauges here are also offered to rule evaluation (`with_delivery_gauges`), so the bundled
rules can watch the agent itself (a stalled queue, refused alerts, a refused token) exactly as
the exported Prometheus rules do, from the same series.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
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


def delivery_gauges(pusher: Pusher, now: float) -> tuple[Series, ...]:
    """Return the delivery gauges at `now`."""
    oldest = pusher.spool.oldest_written_at()
    series = [
        Series(
            "tocsin_agent_spool_oldest_age_seconds",
            {},
            0.0 if oldest is None else max(0.0, now - oldest),
        ),
        Series("tocsin_agent_receiver_auth_failed", {}, 1.0 if pusher.auth_failing else 0.0),
    ]
    reasons: dict[str, int] = {}
    for letter in pusher.dead_letters.letters():
        reasons[letter.reason] = reasons.get(letter.reason, 0) + 1
    series += [
        Series("tocsin_agent_dead_letters", {"reason": reason}, float(count))
        for reason, count in sorted(reasons.items())
    ]
    return tuple(series)


def with_delivery_gauges(sample: Sample, pusher: Pusher | None, now: float) -> Sample:
    """Return the sample the rules read: the host's gauges plus the delivery gauges."""
    if pusher is None:
        return sample
    return replace(sample, gauges=sample.gauges + delivery_gauges(pusher, now))


class DeliveryCollector(Collector):
    """Yield the delivery metrics of whatever pusher runs now (none when not pushing)."""

    def __init__(
        self, pusher: Callable[[], Pusher | None], clock: Callable[[], float] = time.time
    ) -> None:
        self._pusher = pusher
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        """Yield one family per delivery metric."""
        pusher = self._pusher()
        if pusher is None:
            return
        gauges = delivery_gauges(pusher, self._clock())
        for name, documentation in GAUGE_HELP.items():
            labels = GAUGES[name]
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for series in gauges:
                if series.name == name:
                    family.add_metric([series.labels[label] for label in labels], series.value)
            yield family
        spool = pusher.spool
        yield _gauge(
            "tocsin_agent_spool_alerts",
            "Alert transitions waiting to be sent.",
            spool.pending_alerts(),
        )
        yield _gauge(
            "tocsin_agent_spool_memory_entries",
            "Spool entries held in memory because the disk refused to store them.",
            spool.memory_held,
        )
        yield _gauge(
            "tocsin_agent_spool_quarantined_entries",
            "Damaged spool entries kept in the spool's quarantine/ directory.",
            len(spool.quarantined()),
        )
        yield _counter(
            "tocsin_agent_alerts_dropped",
            "Alert transitions the spool dropped, by reason (full, no_space, damaged).",
            spool.alerts_dropped,
        )
        yield _counter(
            "tocsin_agent_alerts_dead_lettered",
            "Alerts the receiver refused, written to the dead-letter file, by reason.",
            pusher.dead_letters.counted,
        )
        yield _counter(
            "tocsin_agent_dead_letters_evicted",
            "Dead letters removed to keep the file within spool.dead_letters entries.",
            {"": pusher.dead_letters.evicted_total},
        )
        yield _counter(
            "tocsin_agent_alerts_collapsed",
            "Waiting firing transitions never sent because their resolution came first.",
            {"": spool.collapsed_total},
        )
        yield _counter(
            "tocsin_agent_alerts_withheld",
            "Alerts left out of a push because the receiver refused them as they are.",
            {"": pusher.withheld_total},
        )
        yield _counter(
            "tocsin_agent_alerts_sent",
            "Alerts the receiver accepted.",
            {"": pusher.alerts_sent_total},
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

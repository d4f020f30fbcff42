"""The bridge's Prometheus metrics on one registry owned by the runtime (never the global one).

Other parts create their metrics on `metrics.registry`. Gauges that reflect database state
(open incidents) are filled by collect callbacks when /metrics is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The core metrics and the registry every other part adds its own to."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.incidents_open = Gauge(
            "tocsin_bridge_incidents_open",
            "Incidents not yet resolved, by priority and status.",
            ["priority", "status"],
            registry=self.registry,
        )
        self.alerts_received = Counter(
            "tocsin_bridge_alerts_received",
            "Alerts received, by route (v2 = Alertmanager API v2, webhook = Alertmanager webhook).",
            ["route"],
            registry=self.registry,
        )
        self.alert_outcomes = Counter(
            "tocsin_bridge_alerts",
            "Alerts received, by route and what each did (opened, refreshed, resolved, "
            "duplicate, stale, unknown_resolve).",
            ["route", "outcome"],
            registry=self.registry,
        )
        self._outcome_children: dict[tuple[str, str], Counter] = {}
        self.sender_clock_skew = Gauge(
            "tocsin_bridge_sender_clock_skew_seconds",
            "The sender's clock minus the bridge's at its last request that told its clock "
            "(X-Tocsin-Sender-Time or Date), by ingest token name.",
            ["sender"],
            registry=self.registry,
        )
        self.ingest_duration = Histogram(
            "tocsin_bridge_ingest_duration_seconds",
            "Time to validate and commit one ingestion request.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests_rejected = Counter(
            "tocsin_bridge_requests_rejected",
            "Requests refused, by reason (auth, forbidden, too_large, invalid, unavailable).",
            ["reason"],
            registry=self.registry,
        )
        self.ingest_in_flight = Gauge(
            "tocsin_bridge_ingest_in_flight",
            "Ingest requests in hand (reading, parsing, waiting for or in a commit).",
            registry=self.registry,
        )
        self.ingest_queued = Gauge(
            "tocsin_bridge_ingest_queue_depth",
            "Writes waiting for a shared transaction to take them, by unit (requests, alerts).",
            ["unit"],
            registry=self.registry,
        )
        self.ingest_shed = Counter(
            "tocsin_bridge_ingest_shed",
            "Ingest requests answered 503 to keep answers fast, by reason (in_flight, "
            "queue_full, queue_timeout, request_timeout, gone).",
            ["reason"],
            registry=self.registry,
        )
        self.ingest_wait = Histogram(
            "tocsin_bridge_ingest_queue_wait_seconds",
            "Time a write waited before a shared transaction took it.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._refreshers: list[Callable[[], None]] = []
        # With several worker processes, each labels its samples worker="N": the process that
        # answers a scrape varies, and its counters must not read as another's, reset.
        self.worker: str | None = None

    def alert_outcome(self, route: str, outcome: str) -> Counter:
        """Return the alert outcome counter of (route, outcome), looked up once (a hot path)."""
        child = self._outcome_children.get((route, outcome))
        if child is None:
            child = self.alert_outcomes.labels(route=route, outcome=outcome)
            self._outcome_children[(route, outcome)] = child
        return child

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Run `refresh` before each exposition, to set gauges read from the database."""
        self._refreshers.append(refresh)

    def exposition(self) -> bytes:
        """Refresh database-backed gauges and render the text format."""
        for refresh in self._refreshers:
            refresh()
        if self.worker is None:
            return generate_latest(self.registry)
        return generate_latest(_Labelled(self.registry, self.worker))


class _Labelled:
    """A registry's metrics with one more label on every sample, for generate_latest."""

    def __init__(self, registry: CollectorRegistry, worker: str) -> None:
        self.registry = registry
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        """Yield each metric family with worker="N" on its samples."""
        for family in self.registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [
                sample._replace(labels={**sample.labels, "worker": self.worker})
                for sample in family.samples
            ]
            yield labelled

"""The bridge's Prometheus metrics on one registry owned by the runtime (never the global one).

Other parts create their metrics on `metrics.registry`. Gauges that reflect database state
(open incidents) are filled by collect callbacks when /metrics is scraped. A process that serves
no HTTP (the delivery process) leaves its counters and histograms in a snapshot file that the
serving processes merge into theirs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

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
        self._merged: list[Path] = []  # other processes' snapshots, added to each exposition

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

    def merge(self, path: Path) -> None:
        """Add the families another process snapshots to `path` to each exposition."""
        self._merged.append(path)

    def exposition(self) -> bytes:
        """Refresh database-backed gauges and render the text format."""
        for refresh in self._refreshers:
            refresh()
        if not self._merged:
            return generate_latest(self._source())
        others = [family for path in self._merged for family in _read_snapshot(path)]
        return generate_latest(_Merged(self._source(), others))

    def snapshot(self, path: Path) -> None:
        """Write this process's counters and histograms to `path` at once (replace), as JSON.

        Gauges stay out: the serving processes read those from the database at each scrape.
        """
        families = [
            {
                "name": family.name,
                "help": family.documentation,
                "type": family.type,
                "unit": family.unit,
                "samples": [[s.name, s.labels, s.value] for s in family.samples],
            }
            for family in self._source().collect()
            if family.type != "gauge"
        ]
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(families))
        os.replace(partial, path)

    def _source(self) -> CollectorRegistry | _Labelled:
        return self.registry if self.worker is None else _Labelled(self.registry, self.worker)


def _read_snapshot(path: Path) -> list[Metric]:
    """Return the families a snapshot holds; none before its process first wrote it."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    families = []
    for entry in raw:
        family = Metric(entry["name"], entry["help"], entry["type"], entry["unit"])
        family.samples = [Sample(name, labels, value) for name, labels, value in entry["samples"]]
        families.append(family)
    return families


class _Merged:
    """A registry's metrics with other processes' samples appended, family by family."""

    def __init__(self, source: CollectorRegistry | _Labelled, others: Iterable[Metric]) -> None:
        self.source = source
        self.others = list(others)

    def collect(self) -> Iterator[Metric]:
        """Yield each family once, its samples followed by the other processes' of that name."""
        others: dict[str, list[Metric]] = {}
        for family in self.others:
            others.setdefault(family.name, []).append(family)
        for family in self.source.collect():
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            merged.samples = [*family.samples]
            for other in others.pop(family.name, ()):
                merged.samples.extend(other.samples)
            yield merged
        for extra in others.values():
            merged = extra[0]
            for other in extra[1:]:
                merged.samples.extend(other.samples)
            yield merged


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

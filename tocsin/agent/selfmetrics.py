"""The agent's own metrics: cycles, storage, spool, push failures and alert states, read live."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tocsin.agent.evaluator import AlertState, LabelSet
from tocsin.common.extras import package_version

STORAGE_FAILING = "tocsin_agent_storage_failing"
WATCHDOG = "tocsin_agent_watchdog"
BUILD_INFO = "tocsin_agent_build_info"
HELP = {
    STORAGE_FAILING: "1 while the agent cannot write its alert state or spool (disk full, "
    "read-only, permissions), else 0; the TocsinAgentStorageFull rule reads it.",
    WATCHDOG: "Always 1 while the agent completes cycles; the always-firing TocsinAgentWatchdog "
    "rule reads it, so a dead-man receiver notices when the agent stops.",
}
# `instance` and `job` are the scrape target's labels in Prometheus; an alert's would clash.
_HIDDEN = ("instance", "job")


@dataclass(frozen=True)
class AgentSnapshot:
    """What the agent knows about itself at one moment."""

    alerts: Mapping[LabelSet, AlertState] = field(default_factory=dict)
    spool_entries: int = 0
    spool_bytes: int = 0
    spool_dropped_total: int = 0
    push_failures: Mapping[str, int] = field(default_factory=dict)
    push_batches_total: int = 0
    last_cycle_at: float | None = None
    storage_failures: Mapping[str, int] = field(default_factory=dict)
    held_alerts: int = 0
    held_dropped_total: int = 0
    receiver_clock_offset: float | None = None


class AgentCollector(Collector):
    """Yield the agent's self-metrics from a snapshot function called at render time."""

    def __init__(self, snapshot: Callable[[], AgentSnapshot]) -> None:
        self._snapshot = snapshot
        self._build_info = GaugeMetricFamily(
            BUILD_INFO,
            "Always 1; the agent's version (package metadata) and Python version as labels.",
            labels=("version", "python"),
        )
        self._build_info.add_metric((package_version(), platform.python_version()), 1.0)

    def collect(self) -> Iterator[Metric]:
        """Yield one family per self-metric."""
        now = self._snapshot()
        yield self._build_info
        if now.last_cycle_at is not None:
            yield _gauge(
                "tocsin_agent_last_successful_cycle_timestamp_seconds",
                "Unix time the last cycle (sample, rules, /metrics, delivery) completed.",
                now.last_cycle_at,
            )
        if now.receiver_clock_offset is not None:
            yield _gauge(
                "tocsin_agent_receiver_clock_offset_seconds",
                "The receiver's clock (its Date header) minus this host's, at the last push.",
                now.receiver_clock_offset,
            )
        yield _counters(
            "tocsin_agent_storage_failures",
            "Writes of the agent's own files that failed (file: state, spool); the cycle went on.",
            "file",
            now.storage_failures,
        )
        yield _gauge(
            "tocsin_agent_held_alerts",
            "Alerts kept in memory because the spool could not be written.",
            now.held_alerts,
        )
        held_dropped = CounterMetricFamily(
            "tocsin_agent_held_dropped",
            "Alerts dropped from memory because more were held than the bound allows.",
        )
        held_dropped.add_metric((), now.held_dropped_total)
        yield held_dropped
        yield _gauge(
            "tocsin_agent_spool_entries", "Alert batches waiting in the spool.", now.spool_entries
        )
        yield _gauge(
            "tocsin_agent_spool_bytes", "Bytes the spooled batches take on disk.", now.spool_bytes
        )
        dropped = CounterMetricFamily(
            "tocsin_agent_spool_dropped",
            "Spooled alert batches dropped because the spool was full or an entry was damaged.",
        )
        dropped.add_metric((), now.spool_dropped_total)
        yield dropped
        yield _counters(
            "tocsin_agent_push_failures",
            "Pushes to the receiver that failed, by reason (timeout, connection, http_<status>).",
            "reason",
            now.push_failures,
        )
        batches = CounterMetricFamily(
            "tocsin_agent_push_batches", "Alert batches the receiver accepted."
        )
        batches.add_metric((), now.push_batches_total)
        yield batches
        firing = Metric(
            "tocsin_alert_firing",
            "1 for each firing alert, 0 for each pending one, labelled as the alert.",
            "gauge",
        )
        for state in now.alerts.values():
            labels = {key: value for key, value in state.labels if key not in _HIDDEN}
            firing.add_sample(
                "tocsin_alert_firing", labels, 1.0 if state.status == "firing" else 0.0
            )
        yield firing


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric((), value)
    return family


def _counters(
    name: str, documentation: str, label: str, counts: Mapping[str, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family

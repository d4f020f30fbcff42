"""The agent's own metrics: spool, push failures and alert states, read live at each render."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tocsin.agent.evaluator import AlertState, LabelSet

# `instance` is the scrape target's label in Prometheus; an alert's host name would clash with it.
_HIDDEN = ("instance",)


@dataclass(frozen=True)
class AgentSnapshot:
    """What the agent knows about itself at one moment."""

    alerts: Mapping[LabelSet, AlertState] = field(default_factory=dict)
    spool_entries: int = 0
    spool_bytes: int = 0
    spool_dropped_total: int = 0
    push_failures: Mapping[str, int] = field(default_factory=dict)
    push_batches_total: int = 0


class AgentCollector(Collector):
    """Yield the agent's self-metrics from a snapshot function called at render time."""

    def __init__(self, snapshot: Callable[[], AgentSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        """Yield one family per self-metric."""
        now = self._snapshot()
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
        failures = CounterMetricFamily(
            "tocsin_agent_push_failures",
            "Pushes to the receiver that failed, by reason (timeout, connection, http_<status>).",
            labels=["reason"],
        )
        for reason, count in sorted(now.push_failures.items()):
            failures.add_metric([reason], count)
        yield failures
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

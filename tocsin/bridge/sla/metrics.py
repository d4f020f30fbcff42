"""Counters of kept and broken promises, and of escalations, on the runtime's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SlaMetrics:
    """tocsin_bridge_sla_clocks_total, _escalations_total and _pages_unreached_total."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.clocks = Counter(
            "tocsin_bridge_sla_clocks",
            "SLA clocks ended, by priority, clock and outcome (met, breached, or "
            "resolved_before_response: a response clock the sender's resolution stopped).",
            ["priority", "clock", "outcome"],
            registry=registry,
        )
        self.escalations = Counter(
            "tocsin_bridge_escalations",
            "Escalation steps that paged, by priority.",
            ["priority"],
            registry=registry,
        )

        self.unreached = Counter(
            "tocsin_bridge_pages_unreached",
            "Targets an escalation step could not page (nobody on call, no address), by priority.",
            ["priority"],
            registry=registry,
        )

        self.skipped = Counter(
            "tocsin_bridge_escalation_steps_skipped",
            "Escalation steps that fell due while the bridge was down, collapsed into one page.",
            ["priority"],
            registry=registry,
        )

    def clock_ended(self, priority: str, clock: str, outcome: str) -> None:
        """Count one clock that was met or breached."""
        self.clocks.labels(priority=priority, clock=clock, outcome=outcome).inc()

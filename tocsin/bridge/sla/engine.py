"""Build the SLA engine: the clock hook, the timer scheduler and its handlers, manual escalation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.follow_up import FollowUp
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.sla.first_step import FirstStep
from tocsin.bridge.sla.handlers import SlaHandlers
from tocsin.bridge.sla.hook import SlaHook
from tocsin.bridge.sla.manual import ManualEscalation
from tocsin.bridge.sla.metrics import SlaMetrics
from tocsin.bridge.store.db import Store
from tocsin.bridge.timers.rows import TimerHandler
from tocsin.bridge.timers.scheduler import Scheduler


@dataclass(frozen=True)
class SlaEngine:
    """The parts install() built, for the runtime to register and for tests."""

    hook: SlaHook
    first_step: FirstStep  # the runtime registers it as its last hook
    scheduler: Scheduler  # a worker; other parts add their timer kinds to its handlers
    metrics: SlaMetrics
    escalator: ManualEscalation  # pages the next level on a manual escalation


def install(
    *,
    policy: Callable[[], Policy],
    hooks: list[EventHook],
    pager: Callable[[], Pager | None],
    store: Store,
    clock: Clock,
    metrics: Metrics,
    lease: timedelta = timedelta(seconds=30),
) -> SlaEngine:
    """Build the SLA hook, the scheduler with the SLA and follow-up timers, manual escalation.

    `policy` and `pager` are read at each use (a reload replaces the policy whole); `hooks` is
    the runtime's live list, so hooks registered later hear timer events too.
    """
    sla_metrics = SlaMetrics(metrics.registry)
    handlers = SlaHandlers(policy=policy, hooks=hooks, pager=pager, metrics=sla_metrics)
    table: dict[str, TimerHandler] = {**handlers.table(), "follow_up": FollowUp(hooks)}
    scheduler = Scheduler(store, table, clock=clock, metrics=metrics, lease=lease)
    handlers.wake = scheduler.wake
    hook = SlaHook(policy, metrics=sla_metrics, wake=scheduler.wake, first_step_paged=True)
    escalator = ManualEscalation(policy, pager, sla_metrics, scheduler.wake)
    return SlaEngine(hook, FirstStep(handlers), scheduler, sla_metrics, escalator)

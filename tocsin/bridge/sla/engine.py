"""Wire the SLA engine into a runtime: the clock hook, the timer scheduler and its handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tocsin.bridge.incidents.follow_up import FollowUp
from tocsin.bridge.ingest.silence import HeartbeatWatch, SilenceCheck, register_host_gauge
from tocsin.bridge.sla.first_step import FirstStep
from tocsin.bridge.sla.handlers import SlaHandlers
from tocsin.bridge.sla.hook import SlaHook
from tocsin.bridge.sla.manual import ManualEscalation
from tocsin.bridge.sla.metrics import SlaMetrics
from tocsin.bridge.timers.rows import TimerHandler
from tocsin.bridge.timers.scheduler import Scheduler

if TYPE_CHECKING:
    from tocsin.bridge.server.runtime import Runtime


@dataclass(frozen=True)
class SlaEngine:
    """The parts install() registered, for tests and for whoever schedules timers."""

    hook: SlaHook
    first_step: FirstStep  # the runtime registers it as its last hook
    scheduler: Scheduler
    metrics: SlaMetrics


def install(runtime: Runtime) -> SlaEngine:
    """Register the SLA hook, the scheduler worker, the heartbeat watch and manual escalation."""
    metrics = SlaMetrics(runtime.metrics.registry)
    handlers = SlaHandlers(
        policy=lambda: runtime.policy,
        hooks=runtime.hooks,  # the live list: hooks registered later hear timer events too
        pager=lambda: runtime.pager,
        metrics=metrics,
    )
    table: dict[str, TimerHandler] = {
        **handlers.table(),
        "follow_up": FollowUp(runtime.hooks),
        "heartbeat": SilenceCheck(lambda: runtime.policy, runtime.hooks, lambda: runtime.hold),
    }
    scheduler = Scheduler(runtime.store, table, clock=runtime.clock, metrics=runtime.metrics)
    handlers.wake = scheduler.wake
    hook = SlaHook(
        lambda: runtime.policy, metrics=metrics, wake=scheduler.wake, first_step_paged=True
    )
    runtime.escalator = ManualEscalation(
        lambda: runtime.policy, lambda: runtime.pager, metrics, scheduler.wake
    )
    runtime.hooks.append(hook)
    runtime.workers.append(scheduler)
    runtime.heartbeat_hooks.append(
        HeartbeatWatch(lambda: runtime.policy, runtime.hooks, scheduler.wake)
    )
    register_host_gauge(runtime.metrics, runtime.store)
    return SlaEngine(hook, FirstStep(handlers), scheduler, metrics)

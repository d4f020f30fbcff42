"""The composition root: config, policy, store and clock, plus the event hooks and workers.

Other parts of the bridge plug in here, one line each in `build_runtime`: an EventHook appended
to `runtime.hooks` hears every incident event inside its transaction; a HeartbeatHook appended to
`runtime.heartbeat_hooks` hears every heartbeat likewise; a Worker appended to
`runtime.workers` is started with the server and stopped before it exits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from tocsin.bridge.incidents.assign import Assigner
from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.service import Escalator, IncidentService
from tocsin.bridge.ingest.apply import Hold
from tocsin.bridge.ingest.heartbeats import HeartbeatHook
from tocsin.bridge.ingest.senderclock import SkewWatch
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.platform.clock import Clock, utcnow
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store

if TYPE_CHECKING:
    from tocsin.bridge.maintenance.service import Desk

log = logging.getLogger(__name__)


class Worker(Protocol):
    """A background loop the server runs: start() returns at once, stop() waits for it to end."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Runtime:
    """Everything a request handler, worker or command needs, built once."""

    config: BridgeConfig
    policy: Policy
    store: Store
    clock: Clock = utcnow
    metrics: Metrics = field(default_factory=Metrics)
    hooks: list[EventHook] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    heartbeat_hooks: list[HeartbeatHook] = field(default_factory=list)
    pager: Pager | None = None
    escalator: Escalator | None = None  # pages the next level on a manual escalation
    hold: Hold | None = None  # maintenance windows: new alerts they cover page nobody

    @property
    def incidents(self) -> IncidentService:
        """Return the incident operations bound to this runtime's store, hooks and clock."""
        assigner = Assigner(lambda: self.policy, lambda: self.pager)
        return IncidentService(self.store, self.hooks, self.clock, self.escalator, assigner)

    @cached_property
    def maintenance(self) -> Desk:
        """Return the maintenance window operations bound to this runtime."""
        from tocsin.bridge.maintenance.service import Desk

        return Desk(
            self.store,
            lambda: self.policy,
            self.hooks,
            self.clock,
            self.config.clock_skew_tolerance,
        )

    @cached_property
    def skew_watch(self) -> SkewWatch:
        """Return the watch on senders' clocks, which exports and reports their offsets."""
        return SkewWatch(self.metrics.sender_clock_skew, self.config.clock_skew_tolerance)

    def start(self) -> None:
        """Start every worker in registration order."""
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        """Stop the workers in reverse order, then close the database pool."""
        for worker in reversed(self.workers):
            try:
                worker.stop()
            except Exception:  # one worker failing to stop must not keep the others running
                log.exception("worker %r failed to stop", worker)
        self.store.dispose()


def build_runtime(
    config: BridgeConfig,
    *,
    policy: Policy | None = None,
    clock: Clock = utcnow,
    store: Store | None = None,
) -> Runtime:
    """Build the runtime and register every part's hooks and workers."""
    runtime = Runtime(
        config=config,
        policy=policy or load_policy(config.policy),
        store=store
        or Store(
            config.database_url,
            busy_timeout=config.limits.busy_timeout,
            retry_after=config.limits.retry_after,
            sqlite_synchronous=config.sqlite_synchronous,
        ),
        clock=clock,
    )
    from tocsin.bridge.incidents.gauges import register_open_gauge

    register_open_gauge(runtime.metrics, runtime.store)
    # Parts register below, one line each: runtime.hooks.append(...), runtime.workers.append(...).
    from tocsin.bridge.sla.engine import install as install_sla

    sla = install_sla(
        runtime
    )  # SLA clock hook; timer scheduler (SLA, escalation, follow-up, heartbeat)
    # After SLA's hook, so pages read the clocks it just set: outbox hook, pager, delivery worker.
    from tocsin.bridge.notify.install import install as install_notify

    install_notify(runtime)
    from tocsin.bridge.reports.scheduled import install as install_reports

    install_reports(runtime)  # after SLA: scheduled reports as "report" timers on its scheduler
    from tocsin.bridge.maintenance.install import install as install_maintenance

    install_maintenance(runtime)  # after SLA: holds covered alerts, releases them on its scheduler
    from tocsin.bridge.sla.calendar_watch import install as install_calendar_watch

    install_calendar_watch(runtime)  # warns of years without confirmed holiday data
    # Last: a new incident's immediate first step pages once its own notifications are queued.
    runtime.hooks.append(sla.first_step)
    return runtime

"""The composition root: config, policy, store and clock, plus the event hooks and workers.

Owns `Runtime` and `build_runtime`. May import every package below it (platform, store, policy,
timers, paging, kb, incidents, sla, ingest, notify, reports, maintenance, mailin); api, web, server and cli build on
it. Parts never import it: each one's builder takes the explicit pieces it needs and returns what
it made, and `build_runtime` registers that, one line each: an EventHook appended to
`runtime.hooks` hears every incident event inside its transaction; a HeartbeatHook appended to
`runtime.heartbeat_hooks` hears every heartbeat likewise; a Worker appended to `runtime.workers`
is started with the server and stopped before it exits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from tocsin.bridge.incidents.assign import Assigner
from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.gauges import register_open_gauge
from tocsin.bridge.incidents.service import Escalator, IncidentService
from tocsin.bridge.ingest.apply import Hold
from tocsin.bridge.ingest.heartbeats import HeartbeatHook
from tocsin.bridge.ingest.senderclock import SkewWatch
from tocsin.bridge.ingest.silence import HeartbeatReturn, SilenceSweep, register_host_gauge
from tocsin.bridge.kb.index import INDEX_ROUND_SECONDS, Indexer
from tocsin.bridge.mailin.install import install as install_mailin
from tocsin.bridge.maintenance.install import install as install_maintenance
from tocsin.bridge.notify.fold import KIND as FOLD_SUMMARY
from tocsin.bridge.notify.install import install as install_notify
from tocsin.bridge.notify.personal import KIND as RULE_STEP
from tocsin.bridge.notify.phone_metrics import phone_metrics
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.platform.clock import Clock, utcnow
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.reports.offload import ReportRunner
from tocsin.bridge.reports.scheduled import install as install_reports
from tocsin.bridge.sla.calendar_watch import install as install_calendar_watch
from tocsin.bridge.sla.engine import install as install_sla
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.retention import Retention
from tocsin.bridge.timers.periodic import Periodic

if TYPE_CHECKING:
    from tocsin.bridge.accounts.service import Accounts
    from tocsin.bridge.maintenance.service import Desk

log = logging.getLogger(__name__)
RETENTION_ROUND_SECONDS = 600.0  # old history is pruned at start and every ten minutes
SILENCE_SWEEP_SECONDS = 1.0  # a silent host is found at most this long after its deadline


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
    def reports(self) -> ReportRunner:
        """Return the SLA report runner: reports computed in processes of their own."""
        limits = self.config.limits
        return ReportRunner(
            self.store,
            processes=limits.report_processes,
            queue=limits.report_queue,
            timeout=limits.report_timeout,
            retry_after=limits.retry_after,
            statement_timeout=limits.statement_timeout,
        )

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
    def accounts(self) -> Accounts:
        """Return people's sign-in, sessions and tokens, bound to this runtime."""
        from tocsin.bridge.accounts.service import Accounts, sign_in_counter

        return Accounts(
            self.store,
            lambda: self.policy,
            self.clock,
            sign_in_counter(self.metrics.registry),
            secret=self.config.secret_key,
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


def open_store(config: BridgeConfig, metrics: Metrics | None = None) -> Store:
    """Open the configured database with the configured limits and timeouts."""
    limits = config.limits
    return Store(
        config.database_url,
        busy_timeout=limits.busy_timeout,
        retry_after=limits.retry_after,
        sqlite_synchronous=config.sqlite_synchronous,
        statement_timeout=limits.statement_timeout,
        idle_in_transaction_timeout=limits.idle_in_transaction_timeout,
        max_queued=limits.max_queued_alerts,
        queue_timeout=limits.queue_timeout,
        on_wait=None if metrics is None else metrics.ingest_wait.observe,
    )


def register_queue_gauge(metrics: Metrics, store: Store) -> None:
    """Export the shared-transaction queue's depth in requests and alerts on each scrape."""

    def refresh() -> None:
        metrics.ingest_queued.labels(unit="requests").set(store.group.depth)
        metrics.ingest_queued.labels(unit="alerts").set(store.group.weight)

    metrics.on_scrape(refresh)


def build_runtime(
    config: BridgeConfig,
    *,
    policy: Policy | None = None,
    clock: Clock = utcnow,
    store: Store | None = None,
) -> Runtime:
    """Build the runtime and register every part's hooks and workers."""
    metrics = Metrics()
    runtime = Runtime(
        config=config,
        policy=policy or load_policy(config.policy),
        store=store or open_store(config, metrics),
        clock=clock,
        metrics=metrics,
    )
    register_queue_gauge(metrics, runtime.store)
    register_open_gauge(runtime.metrics, runtime.store)

    def live_policy() -> Policy:
        return runtime.policy  # the live policy: a reload replaces it whole

    # SLA clock hook; one timer scheduler for SLA, escalation, follow-up, heartbeat and reports.
    sla = install_sla(
        policy=live_policy,
        hooks=runtime.hooks,
        pager=lambda: runtime.pager,
        store=runtime.store,
        clock=runtime.clock,
        metrics=runtime.metrics,
        lease=timedelta(seconds=config.limits.timer_lease),
    )
    runtime.hooks.append(sla.hook)
    runtime.workers.append(sla.scheduler)
    runtime.escalator = sla.escalator
    # Heartbeats: a silent host's return resolves its incident; a sweep finds hosts gone quiet.
    runtime.heartbeat_hooks.append(HeartbeatReturn(runtime.hooks))
    silence = SilenceSweep(runtime.store, live_policy, runtime.hooks, lambda: runtime.hold)
    runtime.workers.append(
        Periodic("silence-sweep", silence, interval=SILENCE_SWEEP_SECONDS, clock=runtime.clock)
    )
    register_host_gauge(runtime.metrics, runtime.store)
    # After SLA's hook, so pages read the clocks it just set: outbox hook, pager, delivery worker.
    delivery = install_notify(
        config, runtime.policy, runtime.store, runtime.metrics, runtime.clock, runtime.hooks
    )
    runtime.hooks.append(delivery.outbox.hook)
    runtime.hooks.append(delivery.reporter)
    runtime.pager = delivery.outbox
    runtime.workers.append(delivery.worker)
    # People's later rule steps: "rule_step" timers fired by the SLA scheduler.
    sla.scheduler.handlers[RULE_STEP] = delivery.outbox.personal.fire
    delivery.outbox.personal.wake = sla.scheduler.wake
    # Storm summaries: "fold_summary" timers, one per person and phone channel past its limit.
    sla.scheduler.handlers[FOLD_SUMMARY] = delivery.outbox.folding.fire
    delivery.outbox.folding.folded = phone_metrics(runtime.metrics.registry).folded
    # Scheduled reports: "report" timers fired by the SLA scheduler, scheduled at start.
    runtime.workers.append(
        install_reports(sla.scheduler, runtime.store, live_policy, runtime.clock, runtime.reports)
    )
    # Maintenance windows: hold the new alerts they cover, release them on the SLA scheduler.
    runtime.hold = install_maintenance(
        sla.scheduler,
        runtime.store,
        runtime.metrics,
        live_policy,
        runtime.hooks,
        runtime.clock,
        lambda: runtime.config.clock_skew_tolerance,
    )
    # Warns of calendar years without confirmed holiday data, on the log and on /metrics.
    install_calendar_watch(live_policy, runtime.clock, runtime.metrics)
    # Old fired and cancelled timers and delivered notifications, pruned in small batches.
    runtime.workers.append(
        Periodic(
            "retention",
            Retention(runtime.store, config.retention),
            interval=RETENTION_ROUND_SECONDS,
            clock=clock,
        )
    )
    # The knowledge base's full-text index takes in documented incidents the triggers queued.
    runtime.workers.append(
        Periodic("kb-index", Indexer(runtime.store), interval=INDEX_ROUND_SECONDS, clock=clock)
    )
    # Incidents from e-mail: a listener and/or a mailbox poller, opening reports like the form.
    runtime.workers.extend(
        install_mailin(
            config.mailin,
            runtime.policy,
            lambda: runtime.incidents,
            metrics,
            runtime.clock,
            config.reporter_mail.domain,
        )
    )
    runtime.accounts  # noqa: B018  (built now so /metrics shows its sign-in counter from the start)
    # Last: a new incident's immediate first step pages once its own notifications are queued.
    runtime.hooks.append(sla.first_step)
    return runtime

"""Build delivery for the runtime: the outbox (subscription hook and pager) and its worker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.notify.mail_templates import MailTemplates
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.reporter import DeadMail, ReporterMail
from tocsin.bridge.notify.worker import DeliveryWorker, RetryPolicy
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.platform.notify_settings import NotifySettings
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store

Job = TypeVar("Job")  # a runtime's background job


@dataclass(frozen=True)
class Delivery:
    """The parts the runtime registers: the outbox as hook and pager, the delivery worker,
    and the hook mailing reporters."""

    outbox: Outbox
    worker: DeliveryWorker
    reporter: ReporterMail


def serving_jobs(jobs: Sequence[Job], settings: NotifySettings, index: int) -> list[Job]:
    """Return the background jobs worker process `index` runs: the first all of them, the others
    their delivery worker only (claims are safe and keep each incident's order across
    processes); none delivers with `notify.deliver_from: process` (a process of its own does),
    only the first with `first`."""
    delivers = settings.deliver_from == "every" or (settings.deliver_from == "first" and index == 0)
    return [job for job in jobs if (delivers if isinstance(job, DeliveryWorker) else index == 0)]


def delivery_worker(jobs: Sequence[Job]) -> DeliveryWorker:
    """Return the delivery worker among a runtime's jobs (the delivery process runs only it)."""
    return next(job for job in jobs if isinstance(job, DeliveryWorker))


def install(
    config: BridgeConfig,
    policy: Policy,
    store: Store,
    metrics: Metrics,
    clock: Clock,
    hooks: Sequence[EventHook] = (),
) -> Delivery:
    """Build the outbox, the delivery worker and the reporter's mails from the config.

    The reporter's mail templates are rendered once here: a broken one stops the start.
    `hooks` (the runtime's, filled later) hear a reporter's mail that became a dead letter.
    """
    settings = config.notify
    templates = MailTemplates(config.reporter_mail.templates)
    templates.check()
    reporter = ReporterMail(
        lambda: policy,
        config.reporter_mail,
        public_url=config.base_url,
        secret_key=config.secret_key,
        templates=templates,
    )
    outbox = Outbox(
        policy,
        public_url=config.base_url,
        secret_key=config.secret_key,
        link_ttl=settings.ack_link_ttl,
    )
    retry = RetryPolicy(
        max_attempts=settings.max_attempts,
        base=settings.retry_base.total_seconds(),
        cap=settings.retry_cap.total_seconds(),
        max_age=settings.max_age.total_seconds(),
    )
    worker = DeliveryWorker(
        store,
        policy,
        metrics,
        smtp=config.smtp,
        clock=clock,
        retry=retry,
        stale_pages=settings.stale_pages,
        parallel=settings.parallel,
        on_dead=DeadMail(store, hooks, clock),
        render=outbox.render_pages,
    )
    return Delivery(outbox, worker, reporter)

"""Build delivery for the runtime: the outbox (subscription hook and pager) and its worker."""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.worker import DeliveryWorker, RetryPolicy
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store


@dataclass(frozen=True)
class Delivery:
    """The parts the runtime registers: the outbox as hook and pager, the delivery worker."""

    outbox: Outbox
    worker: DeliveryWorker


def install(
    config: BridgeConfig, policy: Policy, store: Store, metrics: Metrics, clock: Clock
) -> Delivery:
    """Build the outbox and the delivery worker from the config's notify and SMTP settings."""
    settings = config.notify
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
    )
    return Delivery(outbox, worker)

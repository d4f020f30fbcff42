"""Plug paging into the runtime: the outbox as Pager and subscription hook, and the delivery worker."""

from __future__ import annotations

from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.worker import DeliveryWorker, RetryPolicy
from tocsin.bridge.server.runtime import Runtime


def install(runtime: Runtime) -> None:
    """Register the subscription hook, the pager and the delivery worker on a runtime."""
    config = runtime.config
    settings = config.notify
    outbox = Outbox(
        runtime.policy,
        public_url=config.base_url,
        secret_key=config.secret_key,
        link_ttl=settings.ack_link_ttl,
    )
    runtime.hooks.append(outbox.hook)
    runtime.pager = outbox
    retry = RetryPolicy(
        max_attempts=settings.max_attempts,
        base=settings.retry_base.total_seconds(),
        cap=settings.retry_cap.total_seconds(),
        max_age=settings.max_age.total_seconds(),
    )
    runtime.workers.append(
        DeliveryWorker(
            runtime.store,
            runtime.policy,
            runtime.metrics,
            smtp=config.smtp,
            clock=runtime.clock,
            retry=retry,
            stale_pages=settings.stale_pages,
        )
    )

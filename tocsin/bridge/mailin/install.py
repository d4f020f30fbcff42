"""Build the inbound mail workers for the runtime: the SMTP/LMTP listener, the IMAP poller."""

from __future__ import annotations

from collections.abc import Callable

from tocsin.bridge.incidents.service import IncidentService
from tocsin.bridge.mailin.gateway import Gateway, MailMetrics
from tocsin.bridge.mailin.imap import ImapPoller
from tocsin.bridge.mailin.rules import require_valid
from tocsin.bridge.mailin.smtp import SmtpListener
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.mailin_settings import MailinSettings
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.timers.periodic import Periodic


def install(
    settings: MailinSettings | None,
    policy: Policy,
    service: Callable[[], IncidentService],
    metrics: Metrics,
    clock: Clock,
    domain: str,
) -> list[SmtpListener | Periodic]:
    """Return the workers the `mailin:` section asks for; refuse rules the policy cannot meet.

    The mail metrics are registered even without the section, so dashboards and alert rules
    find them on every bridge.
    """
    counters = MailMetrics(metrics.registry)
    if settings is None:
        return []
    require_valid(settings, policy)
    gateway = Gateway(settings, service, counters, domain)
    workers: list[SmtpListener | Periodic] = []
    if settings.smtp is not None:
        workers.append(SmtpListener(gateway, settings.smtp, settings.max_bytes))
    if settings.imap is not None:
        poller = ImapPoller(gateway, settings.imap)
        workers.append(Periodic("mail-imap", poller, interval=settings.imap.interval, clock=clock))
    return workers

"""Cost and health of phone paging in /metrics: sends by provider and result, latency, callbacks."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Histogram

PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PhoneMetrics:
    """The phone counters of one registry (the runtime's), created once however often asked."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "tocsin_bridge_phone_messages",
            "SMS and calls asked of a provider, by provider, kind (sms, voice) and result "
            "(accepted, refused, failed, uncertain).",
            ["provider", "kind", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "tocsin_bridge_phone_provider_latency_seconds",
            "Time a provider took to answer a send request, by provider.",
            ["provider"],
            buckets=PROVIDER_BUCKETS,
            registry=registry,
        )
        self.callbacks = Counter(
            "tocsin_bridge_phone_callbacks",
            "Callbacks from phone providers, by provider, kind (voice, sms, status) and result "
            "(verified, refused: a bad signature, replayed).",
            ["provider", "kind", "result"],
            registry=registry,
        )
        self.folded = Counter(
            "tocsin_bridge_phone_folded",
            "Pages to a person's phone past their phone_limit, folded into one summary message, "
            "by channel.",
            ["channel"],
            registry=registry,
        )


_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, PhoneMetrics] = WeakKeyDictionary()


def phone_metrics(registry: CollectorRegistry) -> PhoneMetrics:
    """Return the phone metrics of a registry, registering them on first use."""
    found = _BY_REGISTRY.get(registry)
    if found is None:
        found = _BY_REGISTRY[registry] = PhoneMetrics(registry)
    return found

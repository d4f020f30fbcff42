from __future__ import annotations

import gzip
import http.client
import re
import subprocess
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from tests.peers import require_binary
from tocsin.agent.exposition import Exposition, ServerHandle
from tocsin.agent.sample import Sample, Series
from tocsin.agent.sampler import Sampler
from tocsin.agent.textformat import (
    HELP_TEXT,
    SAMPLE_DURATION,
    SAMPLE_DURATION_HELP,
    SampleCollector,
    TextRenderer,
    render,
)

SAMPLE = Sample(
    taken_at=1_700_000_000.0,
    gauges=(
        Series("tocsin_load1", {}, 0.5),
        Series("tocsin_disk_busy_ratio", {"device": "sda"}, 0.25),
        Series("tocsin_disk_busy_ratio", {"device": "sdb"}, 0.75),
    ),
    counters=(Series("tocsin_cpu_seconds_total", {"mode": "idle"}, 12.5),),
    duration_seconds=0.0004,
)


def rendered(sample: Sample) -> str:
    registry = CollectorRegistry()
    collector = SampleCollector()
    registry.register(collector)
    collector.update(sample)
    return generate_latest(registry).decode()


def test_families_carry_help_type_and_every_label_set() -> None:
    text = rendered(SAMPLE)
    assert "# HELP tocsin_load1 Load average over 1 minute." in text
    assert "# TYPE tocsin_disk_busy_ratio gauge" in text
    assert 'tocsin_disk_busy_ratio{device="sda"} 0.25' in text
    assert 'tocsin_disk_busy_ratio{device="sdb"} 0.75' in text


def test_counters_keep_their_total_suffix() -> None:
    text = rendered(SAMPLE)
    assert re.search(r"^# TYPE tocsin_cpu_seconds(_total)? counter$", text, re.MULTILINE)
    assert 'tocsin_cpu_seconds_total{mode="idle"} 12.5' in text


def test_sample_duration_is_exported() -> None:
    assert "tocsin_agent_sample_duration_seconds 0.0004" in rendered(SAMPLE)


def test_nothing_is_exported_before_the_first_sample() -> None:
    assert list(SampleCollector().collect()) == []


def test_render_writes_exactly_what_generate_latest_writes() -> None:
    registry = CollectorRegistry()
    collector = SampleCollector()
    registry.register(collector)
    big = Series("tocsin_disk_read_bytes_total", {"device": "sda"}, 1.5e21)
    collector.update(Sample(taken_at=0.0, gauges=SAMPLE.gauges, counters=(*SAMPLE.counters, big)))
    odd = Gauge("tocsin_odd", "help with \\ and\nnewline", ["path", "b"], registry=registry)
    odd.labels('a"b\\c\nd', "x").set(float("inf"))
    Gauge("tocsin_nan", "nan", registry=registry).set(float("nan"))
    Counter("tocsin_pushes", "pushes", ["result"], registry=registry).labels("ok").inc(2)
    Histogram("tocsin_push_seconds", "push time", registry=registry).observe(0.3)
    Info("tocsin_build", "build", registry=registry).info({"version": "1"})
    renderer = TextRenderer()
    renderer(registry)
    assert renderer(registry).decode() == generate_latest(registry).decode()
    assert render(registry) == generate_latest(registry)


def test_real_exposition_passes_promtool_check_metrics() -> None:
    promtool = require_binary("promtool")
    registry = CollectorRegistry()
    collector = SampleCollector()
    registry.register(collector)
    Counter("tocsin_agent_push_failures", "Pushes that failed.", registry=registry)
    sampler = Sampler()
    sampler.sample()
    collector.update(sampler.sample())
    sampler.close()
    exposition = Exposition(registry)
    exposition.refresh()
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition.body(gzipped=False),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == b""


class CountingCollector:
    """A collector that counts how often the registry is rendered."""

    def __init__(self) -> None:
        self.renders = 0

    def collect(self) -> Iterator[Metric]:
        self.renders += 1
        family = GaugeMetricFamily("tocsin_test_renders", "Renders so far.")
        family.add_metric((), self.renders)
        yield family


@pytest.fixture
def served() -> Iterator[tuple[Exposition, CountingCollector, ServerHandle]]:
    registry = CollectorRegistry()
    counting = CountingCollector()
    registry.register(counting)  # type: ignore[arg-type]
    exposition = Exposition(registry)
    exposition.refresh()
    handle = exposition.serve("127.0.0.1", 0)
    yield exposition, counting, handle
    handle.close()


def get(handle: ServerHandle, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def test_scrapes_are_served_from_the_last_refresh_without_rendering(served) -> None:  # type: ignore[no-untyped-def]
    exposition, counting, handle = served
    for _ in range(3):
        response = get(handle, "/metrics")
    assert response.status == 200
    assert b"tocsin_test_renders 1.0" in response.body  # type: ignore[attr-defined]
    assert counting.renders == 1
    exposition.refresh()
    assert b"tocsin_test_renders 2.0" in get(handle, "/metrics").body  # type: ignore[attr-defined]


def test_gzip_is_served_when_asked(served) -> None:  # type: ignore[no-untyped-def]
    _, _, handle = served
    response = get(handle, "/metrics", **{"Accept-Encoding": "gzip"})
    assert response.getheader("Content-Encoding") == "gzip"
    assert b"tocsin_test_renders" in gzip.decompress(response.body)  # type: ignore[attr-defined]


def test_gzipped_copy_follows_each_refresh() -> None:
    registry = CollectorRegistry()
    counting = CountingCollector()
    registry.register(counting)  # type: ignore[arg-type]
    exposition = Exposition(registry)
    exposition.refresh()
    first = gzip.decompress(exposition.body(gzipped=True))
    exposition.refresh()
    second = gzip.decompress(exposition.body(gzipped=True))
    assert b"tocsin_test_renders 1.0" in first
    assert second == exposition.body(gzipped=False)
    assert b"tocsin_test_renders 2.0" in second


def test_plain_text_without_accept_encoding(served) -> None:  # type: ignore[no-untyped-def]
    _, _, handle = served
    response = get(handle, "/metrics")
    assert response.getheader("Content-Encoding") is None
    assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4")


def test_nothing_is_rendered_before_the_first_refresh() -> None:
    registry = CollectorRegistry()
    registry.register(CountingCollector())  # type: ignore[arg-type]
    assert Exposition(registry).body(gzipped=False) == b""


def test_metrics_registered_by_others_appear_on_the_next_refresh() -> None:
    registry = CollectorRegistry()
    exposition = Exposition(registry)
    exposition.refresh()
    dropped = Counter("tocsin_agent_spool_dropped", "Alerts dropped.", registry=registry)
    dropped.inc(3)
    assert b"tocsin_agent_spool_dropped_total" not in exposition.body(gzipped=False)
    exposition.refresh()
    assert b"tocsin_agent_spool_dropped_total 3.0" in exposition.body(gzipped=False)


@pytest.mark.parametrize(("path", "status"), [("/healthz", 200), ("/nothing", 404)])
def test_other_paths(served, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    _, _, handle = served
    assert get(handle, path).status == status


def test_one_connection_serves_many_scrapes(served) -> None:  # type: ignore[no-untyped-def]
    _, _, handle = served
    connection = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=5)
    statuses = []
    for _ in range(3):
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    assert statuses == [200, 200, 200]


def test_name_filter_serves_only_the_named_metrics_as_client_python_does() -> None:
    registry = CollectorRegistry()
    collector = SampleCollector()
    registry.register(collector)
    collector.update(SAMPLE)
    exposition = Exposition(registry)
    exposition.refresh()
    handle = exposition.serve("127.0.0.1", 0)
    try:
        query = "name%5B%5D=tocsin_disk_busy_ratio&name%5B%5D=tocsin_cpu_seconds_total"
        body = get(handle, f"/metrics?{query}").body.decode()  # type: ignore[attr-defined]
    finally:
        handle.close()
    lines = body.splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        'tocsin_disk_busy_ratio{device="sda"} 0.25',
        'tocsin_disk_busy_ratio{device="sdb"} 0.75',
        'tocsin_cpu_seconds_total{mode="idle"} 12.5',
    ]
    assert [line.split()[:3] for line in lines if line.startswith("#")] == [
        ["#", kind, name]
        for name in ("tocsin_disk_busy_ratio", "tocsin_cpu_seconds_total")
        for kind in ("HELP", "TYPE")
    ]


class PlainFamilies:
    """The sample as plain prometheus_client families, rendered by generate_latest: the reference."""

    def __init__(self, sample: Sample) -> None:
        self.sample = sample

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for kind, series in (("gauge", self.sample.gauges), ("counter", self.sample.counters)):
            for one in series:
                if one.name not in families:
                    base = one.name.removesuffix("_total") if kind == "counter" else one.name
                    families[one.name] = Metric(base, HELP_TEXT.get(one.name, one.name), kind)
                families[one.name].add_sample(one.name, dict(one.labels), one.value)
        duration = Metric(SAMPLE_DURATION, SAMPLE_DURATION_HELP, "gauge")
        duration.add_sample(SAMPLE_DURATION, {}, self.sample.duration_seconds)
        families[SAMPLE_DURATION] = duration
        yield from families.values()


def test_sample_lines_reused_across_updates_render_exactly_as_generate_latest() -> None:
    # Collectors pass the same label dicts cycle after cycle; the lines are kept by them.
    sda, eth0, none, odd = {"device": "sda"}, {"device": "eth0"}, {}, {"pa\u00e9th": "x"}
    quoted = {"mountpoint": 'a"b\\c\nd', "device": "/dev/sdb1"}
    steps = [
        (0.5, 0.0, 1.5e21, float("nan"), 7.0),
        (0.5, -0.0, 1.5e21, float("inf"), 7.0),
        (0.25, 0.0, 2e6, float("-inf"), 1234567.0),
        (0.25, 0.0, 2e6, float("-inf"), 1234567.0),
    ]
    registry = CollectorRegistry()
    collector = SampleCollector()
    registry.register(collector)
    exposition = Exposition(registry)
    for step, (busy, zero, big, special, free) in enumerate(steps):
        gauges = [
            Series("tocsin_disk_busy_ratio", sda, busy),
            Series("tocsin_load1", none, zero),
            Series("tocsin_filesystem_free_bytes", quoted, free),
            Series("tocsin_odd_ratio", odd, special),
        ]
        if step < 2:
            gauges.append(Series("tocsin_disk_busy_ratio", {"device": "sdc"}, 0.125))
        counters = (
            Series("tocsin_network_receive_bytes_total", eth0, big),
            Series("tocsin_network_transmit_bytes_total", eth0, float(step)),
            Series("tocsin_disk_read_bytes_total", sda, big),
        )
        sample = Sample(float(step), tuple(gauges), counters, duration_seconds=0.0004)
        collector.update(sample)
        exposition.refresh()
        reference = CollectorRegistry()
        reference.register(PlainFamilies(sample))  # type: ignore[arg-type]
        assert exposition.body(gzipped=False) == generate_latest(reference), step
        assert generate_latest(registry) == generate_latest(reference), step

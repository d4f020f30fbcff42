"""Publish the latest Sample on /metrics: rendered once per sample cycle, served from memory.

A scrape never samples and never renders: it copies bytes prepared by `Exposition.refresh()`,
which the daemon calls right after each sample. Other parts of the agent register their own
metrics (spool depth, push failures, alert states) on the same registry and appear on the next
refresh.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.collectors import HELP
from agent.sample import Sample, Series

log = logging.getLogger(__name__)

SAMPLE_DURATION = "tocsin_agent_sample_duration_seconds"
SAMPLE_DURATION_HELP = "Seconds the last sampling pass took."


class SampleCollector(Collector):
    """Turn the latest Sample into metric families, built once per update, yielded per render."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def update(self, sample: Sample) -> None:
        """Replace what the next render publishes with this sample."""
        families: list[Metric] = []
        families.extend(_families(sample.gauges, GaugeMetricFamily))
        families.extend(_families(sample.counters, CounterMetricFamily))
        duration = GaugeMetricFamily(SAMPLE_DURATION, SAMPLE_DURATION_HELP)
        duration.add_metric((), sample.duration_seconds)
        families.append(duration)
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """Yield the families of the last update (none before the first)."""
        return iter(self._families)


def _families(
    series: tuple[Series, ...], kind: type[GaugeMetricFamily] | type[CounterMetricFamily]
) -> Iterator[Metric]:
    grouped: dict[str, list[Series]] = {}
    for one in series:
        grouped.setdefault(one.name, []).append(one)
    for name, members in grouped.items():
        family = kind(name, HELP.get(name, name.replace("_", " ")), labels=list(members[0].labels))
        for member in members:
            family.add_metric(list(member.labels.values()), member.value)
        yield family


class Exposition:
    """Hold the registry's text rendering, plain and gzipped, and serve it over HTTP."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._rendered = (b"", b"")
        self.refresh()

    def refresh(self) -> None:
        """Render the registry once; scrapes until the next refresh get these bytes."""
        plain = generate_latest(self._registry)
        self._rendered = (plain, gzip.compress(plain, compresslevel=6, mtime=0))

    def body(self, gzipped: bool) -> bytes:
        """Return the cached rendering, gzipped or plain."""
        return self._rendered[1 if gzipped else 0]

    def serve(self, host: str, port: int) -> ServerHandle:
        """Serve /metrics and /healthz on a background thread; port 0 picks a free port."""
        server = ThreadingHTTPServer((host, port), _handler(self))
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="tocsin-http"
        )
        thread.daemon = True
        thread.start()
        return ServerHandle(server, thread)


class ServerHandle:
    """A running /metrics server: its bound port, and how to stop it."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])

    def close(self) -> None:
        """Stop accepting scrapes and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(exposition: Exposition) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answer from memory only, keeping connections alive as Prometheus expects."""

        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
                self._reply(200, CONTENT_TYPE_PLAIN_0_0_4, exposition.body(gzipped), gzipped)
            elif path == "/healthz":
                self._reply(200, "text/plain; charset=utf-8", b"ok\n")
            else:
                self._reply(404, "text/plain; charset=utf-8", b"not found; try /metrics\n")

        def _reply(
            self, status: int, content_type: str, body: bytes, gzipped: bool = False
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("%s %s", self.address_string(), format % args)

    return Handler

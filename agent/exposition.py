"""Publish the latest Sample on /metrics: rendered once per sample cycle, served from memory.

A scrape never samples and never renders: it copies bytes prepared by `Exposition.refresh()`,
which the daemon calls right after each sample. Other parts of the agent register their own
metrics (spool depth, push failures, alert states) on the same registry and appear on the next
refresh.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample as PromSample
from prometheus_client.utils import floatToGoString

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
        families = _families(sample.gauges, "gauge") + _families(sample.counters, "counter")
        duration = Metric(SAMPLE_DURATION, SAMPLE_DURATION_HELP, "gauge")
        duration.samples = [PromSample(SAMPLE_DURATION, {}, sample.duration_seconds)]
        families.append(duration)
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """Yield the families of the last update (none before the first)."""
        return iter(self._families)


def _families(series: tuple[Series, ...], kind: str) -> list[Metric]:
    """Group series by name into families, sharing the series' label dicts (never mutated)."""
    families: dict[str, Metric] = {}
    for one in series:
        family = families.get(one.name)
        if family is None:
            # A counter family is named without _total; its samples carry the suffix.
            base = one.name.removesuffix("_total") if kind == "counter" else one.name
            family = families[one.name] = Metric(base, HELP.get(one.name, one.name), kind)
        labels = one.labels if isinstance(one.labels, dict) else dict(one.labels)
        family.samples.append(PromSample(one.name, labels, one.value))
    return list(families.values())


def render(registry: Collector) -> bytes:
    """Render the registry in the Prometheus text format, as generate_latest() would.

    Gauges and counters, nearly everything here, take a direct path at a third of
    generate_latest's cost; any other family (histograms, counters' _created series, odd names)
    goes through generate_latest itself.
    """
    parts: list[str] = []
    for family in registry.collect():
        text = _plain_family(family)
        parts.append(text if text is not None else generate_latest(_One(family)).decode())
    return "".join(parts).encode()


_LEGACY_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_PLAIN_TYPES = {"gauge": "gauge", "counter": "counter", "unknown": "untyped"}
_valid_labels: set[str] = set()
# Values written exactly as prometheus_client writes them (Go's float format, +Inf, NaN).
_float_text = cast(Callable[[float], str], floatToGoString)


def _plain_family(family: Metric) -> str | None:
    mtype = _PLAIN_TYPES.get(family.type)
    if mtype is None:
        return None
    name = family.name + "_total" if family.type == "counter" else family.name
    if _LEGACY_NAME.match(name) is None:
        return None
    help_text = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    lines = [f"# HELP {name} {help_text}\n# TYPE {name} {mtype}\n"]
    for sample in family.samples:
        if sample.name != name or sample.timestamp is not None or sample.native_histogram:
            return None
        if not sample.labels:
            lines.append(f"{name} {_float_text(sample.value)}\n")
            continue
        pairs = []
        for key, value in sorted(sample.labels.items()):
            if key not in _valid_labels:
                if _LEGACY_LABEL.match(key) is None:
                    return None
                _valid_labels.add(key)
            if "\\" in value or "\n" in value or '"' in value:
                value = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
            pairs.append(f'{key}="{value}"')
        lines.append(f"{name}{{{','.join(pairs)}}} {_float_text(sample.value)}\n")
    return "".join(lines)


class _One:
    """One family posing as a registry, for generate_latest."""

    def __init__(self, family: Metric) -> None:
        self._family = family

    def collect(self) -> Iterator[Metric]:
        yield self._family


class Exposition:
    """Hold the registry's text rendering, plain and gzipped, and serve it over HTTP."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        # Empty until the first refresh: collectors may not be ready while their owner is built.
        self._rendered = (b"", gzip.compress(b"", mtime=0))

    def refresh(self) -> None:
        """Render the registry once; scrapes until the next refresh get these bytes."""
        plain = render(self._registry)
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
        # Headers and body leave in one segment, at once: with Nagle's algorithm and the
        # client's delayed ACK, a body sent after its headers waits 40 ms.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

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

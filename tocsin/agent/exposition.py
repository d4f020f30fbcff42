"""Publish the latest Sample on /metrics: rendered once per sample cycle, served from memory.

A scrape never samples and never renders: it copies bytes prepared by `Exposition.refresh()`,
which the daemon calls right after each sample. Other parts of the agent register their own
metrics (spool depth, push failures, alert states) on the same registry and appear on the next
refresh.
"""

from __future__ import annotations

import base64
import gzip
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from tocsin.agent.httpserve import IDLE_TIMEOUT, MAX_CONNECTIONS, BoundedHandler, BoundedHTTPServer
from tocsin.agent.textformat import TextRenderer

if TYPE_CHECKING:
    from tocsin.agent.webconfig import BasicAuth, WebConfig

log = logging.getLogger(__name__)


def _line_metric(line: bytes) -> str:
    """Return the metric name a text-format line is about: a HELP, TYPE or sample line."""
    if line.startswith(b"# "):
        parts = line.split(b" ", 3)
        return parts[2].decode() if len(parts) > 2 else ""
    end = len(line)
    for mark in (b"{", b" "):
        found = line.find(mark)
        if 0 <= found < end:
            end = found
    return line[:end].decode()


def _always_healthy() -> tuple[bool, str]:
    return True, "ok"


class Exposition:
    """Hold the registry's text rendering, plain and gzipped, and serve it over HTTP.

    `health` answers /healthz: (healthy, one line); unhealthy is a 503.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Callable[[], tuple[bool, str]] = _always_healthy,
    ) -> None:
        self._registry = registry
        self.health = health
        self._render = TextRenderer()
        # Empty until the first refresh: collectors may not be ready while their owner is built.
        self._plain = b""
        self._gzipped: tuple[bytes, bytes] | None = None

    def refresh(self) -> None:
        """Render the registry once; scrapes until the next refresh get these bytes."""
        self._plain = self._render(self._registry)

    def body(self, gzipped: bool) -> bytes:
        """Return the cached rendering, plain or gzipped.

        The gzipped copy is made by the first scrape that asks for it after a refresh, so a
        cycle nobody scrapes costs no compression; concurrent scrapes at worst both compress.
        """
        plain = self._plain
        if not gzipped:
            return plain
        cached = self._gzipped
        if cached is None or cached[0] is not plain:
            cached = self._gzipped = (plain, gzip.compress(plain, compresslevel=6, mtime=0))
        return cached[1]

    def only(self, names: frozenset[str]) -> bytes:
        """Return the cached rendering cut to the named metrics, as client_python's `name[]`."""
        kept = [line for line in self._plain.splitlines(True) if _line_metric(line) in names]
        return b"".join(kept)

    def serve(
        self,
        host: str,
        port: int,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
        web: WebConfig | None = None,
    ) -> ServerHandle:
        """Serve /metrics and /healthz on a background thread; port 0 picks a free port.

        `web` (node_exporter's web config) adds TLS and basic auth to every path.
        """
        auth = None
        if web is not None and web.users:
            from tocsin.agent.webconfig import BasicAuth

            auth = BasicAuth(web.users)
        tls = web.tls if web is not None else None
        server = BoundedHTTPServer(
            (host, port), _handler(self, auth), max_connections, idle_timeout, tls
        )
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="tocsin-http"
        )
        thread.daemon = True
        thread.start()
        return ServerHandle(server, thread)


class ServerHandle:
    """A running /metrics server: its bound port, and how to stop it."""

    def __init__(self, server: BoundedHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])

    @property
    def idle_connections(self) -> int:
        """Return how many connections wait for their next request."""
        return self._server.idle_count

    def close(self) -> None:
        """Stop accepting scrapes and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _credentials(header: str) -> tuple[str, str] | None:
    """Read `Basic base64(user:password)`; None when the header is no such thing."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


def _handler(exposition: Exposition, auth: BasicAuth | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BoundedHandler):
        """Answer from memory only, keeping connections alive as Prometheus expects."""

        protocol_version = "HTTP/1.1"
        # Headers and body leave in one segment, at once: with Nagle's algorithm and the
        # client's delayed ACK, a body sent after its headers waits 40 ms.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if auth is not None:
                given = _credentials(self.headers.get("Authorization", ""))
                if given is None or not auth.allows(*given):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="tocsin-agent"')
                    body = b"unauthorized\n"
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
            path, _, query = self.path.partition("?")
            if path == "/metrics":
                gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
                names = parse_qs(query).get("name[]") if query else None
                if names:
                    # A person following an alert's generatorURL: rare, filtered on demand.
                    body = exposition.only(frozenset(names))
                    self._reply(200, CONTENT_TYPE_PLAIN_0_0_4, body)
                    return
                self._reply(200, CONTENT_TYPE_PLAIN_0_0_4, exposition.body(gzipped), gzipped)
            elif path == "/healthz":
                healthy, text = exposition.health()
                body = f"{text}\n".encode()
                self._reply(200 if healthy else 503, "text/plain; charset=utf-8", body)
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

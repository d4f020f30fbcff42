"""Test doubles for the agent: scripted samples, a settable clock, a real HTTP receiver."""

from __future__ import annotations

import errno
import json
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tocsin.agent.sample import Sample, Series


def sample(*gauges: tuple[str, dict[str, str], float], at: float = 0.0) -> Sample:
    """Build a Sample from (name, labels, value) triples."""
    return Sample(taken_at=at, gauges=tuple(Series(n, labels, v) for n, labels, v in gauges))


def cpu(value: float) -> Sample:
    """A sample holding only a CPU usage ratio."""
    return sample(("tocsin_cpu_usage_ratio", {}, value))


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedSampler:
    """A sampler whose next sample is whatever the test set last."""

    def __init__(self, first: Sample | None = None) -> None:
        self.next = first or Sample(taken_at=0.0)
        self.closed = False

    def sample(self) -> Sample:
        return self.next

    def close(self) -> None:
        self.closed = True


@dataclass
class Request:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers as scripted."""

    answer: Callable[[Request], tuple[int, dict[str, str]]] = lambda request: (200, {})
    # A JSON body to answer with, by status (e.g. a bridge's 400 naming `rejected[]`).
    bodies: dict[int, Callable[[Request], Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    # Serve HTTPS with this context (its certificate, and the client certificates it demands).
    tls: ssl.SSLContext | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                request = Request(
                    self.path, dict(self.headers), json.loads(self.rfile.read(length))
                )
                status, headers = receiver.answer(request)
                if status < 300:
                    receiver.requests.append(request)
                make_body = receiver.bodies.get(status)
                body = json.dumps(make_body(request)).encode() if make_body else b""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def alerts(self) -> list[dict[str, Any]]:
        """Return every alert received on /api/v2/alerts, in arrival order."""
        return [a for r in self.requests if r.path == "/api/v2/alerts" for a in r.body]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def alertnames(alerts: Iterable[dict[str, Any]]) -> list[str]:
    """Return the alertname label of each alert."""
    return [alert["labels"]["alertname"] for alert in alerts]


def fill(disk: Path) -> Path:
    """Write zeros until the filesystem answers ENOSPC, as `dd if=/dev/zero` would."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as file:
        for _ in range(1000):
            try:
                file.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        else:
            raise AssertionError("the tmpfs never filled")
    # Small writes may still fit in the last partial page; take those too.
    with open(disk / "crumbs", "wb", buffering=0) as file:
        for _ in range(1000):
            try:
                file.write(b"\0" * 512)
            except OSError:
                break
    return filler

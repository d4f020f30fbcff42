"""A real HTTP receiver on 127.0.0.1 port 0 that records requests and answers from a script."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw.decode("utf-8"))


Answer = tuple[int, str]  # status, body


class Receiver:
    """Records every POST; `answer` decides the reply (default 200 with `default_body`)."""

    def __init__(self, default_body: str = "ok", port: int = 0) -> None:
        self.received: list[Received] = []
        self.answer: Callable[[Received], Answer] = lambda _: (200, default_body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", "0"))
                parts = urlsplit(self.path)
                item = Received(
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=self.rfile.read(length),
                )
                receiver.received.append(item)
                status, body = receiver.answer(item)
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(default_body: str = "ok", port: int = 0) -> Iterator[Receiver]:
    """Run a receiver for the duration of a with-block."""
    receiver = Receiver(default_body, port).start()
    try:
        yield receiver
    finally:
        receiver.stop()

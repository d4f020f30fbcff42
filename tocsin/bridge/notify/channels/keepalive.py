"""POST on a kept-alive connection of a urllib3 pool, the reply parsed by llhttp (httptools).

urllib3 opens the connections (TCP, then TLS with the session's verification, SNI and hostname
check) and keeps the idle ones, dropping those the server closed; the exchange itself is one
sendall and a recv or two into httptools' C parser. Under urllib3's own request, http.client
parses reply headers with the email package: about 200 us of CPU a post, a fifth of the
bridge's CPU per page in a storm. Failures are raised as urllib3 raises them (ProtocolError,
SSLError, ReadTimeoutError, NewConnectionError...), so a failed post reads the same either way.
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Mapping
from http.client import RemoteDisconnected
from typing import NamedTuple, cast

import httptools
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

CHUNK = 65536
DEFAULT_PORTS = {"http": 80, "https": 443}


class Answer(NamedTuple):
    """A reply as read: status, headers (case-insensitive, repeats joined) and body."""

    status: int
    headers: urllib3.HTTPHeaderDict
    body: bytes


class _Unanswered(Exception):
    """The connection failed before the first byte of a reply: the request may go again."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _Reading:
    """Collects one reply as llhttp reports it; informational (1xx) replies are skipped."""

    def __init__(self) -> None:
        parser = httptools.HttpResponseParser(self)
        # What http.client took from receivers before: bare LF line ends, a length beside
        # chunks (the chunks win), spaces after a chunk size, control bytes in header values.
        # "Dangerous" for a proxy relaying messages; this reads one reply of its own request.
        parser.set_dangerous_leniencies(
            lenient_optional_cr_before_lf=True,
            lenient_chunked_length=True,
            lenient_spaces_after_chunk_size=True,
            lenient_headers=True,
        )
        self.parser: httptools.HttpResponseParser | None = parser
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.answer: Answer | None = None
        self.keep_alive = False
        self.sound = True  # False once bytes follow the reply: the connection is not reused

    def on_message_begin(self) -> None:
        self.sound = self.answer is None
        self.headers = []
        self.body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.parser is not None
        if self.parser.get_status_code() >= 200 and self.answer is None:
            self.keep_alive = self.parser.should_keep_alive()  # valid until the next message
            self.settle()

    def ended(self) -> None:
        """Take the server's close as the body's end, if neither a length nor chunks delimit it."""
        names = {name.lower() for name, _ in self.headers}
        if self.parser is None or "content-length" in names or "transfer-encoding" in names:
            raise ProtocolError("Connection broken: IncompleteRead")
        self.settle()

    def settle(self) -> None:
        """Take what was read as the answer."""
        assert self.parser is not None
        status = self.parser.get_status_code()
        self.answer = Answer(status, urllib3.HTTPHeaderDict(self.headers), b"".join(self.body))


class Link:
    """The kept-alive connections to one origin, through the urllib3 pool that opens them."""

    def __init__(self, pool: urllib3.HTTPConnectionPool) -> None:
        self.pool = pool  # its manager lets an unused pool go, but never closes one in use
        host = pool.host
        host = f"[{host}]" if ":" in host else host
        port = pool.port
        if port is not None and port != DEFAULT_PORTS.get(pool.scheme):
            host = f"{host}:{port}"
        self.host = host

    def post(self, target: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        """POST once: on a kept-alive connection found closed, again on a fresh one."""
        request = self._request(target, body, headers)
        pool = self.pool
        conn = cast(HTTPConnection, pool._get_conn())
        keep = False
        try:
            answer, keep = _again_if_stale(conn, request, timeout)
        except TimeoutError as exc:
            raise ReadTimeoutError(
                pool, target, f"Read timed out. (read timeout={timeout})"
            ) from exc
        finally:
            if not keep:
                conn.close()
            pool._put_conn(conn)
        return answer

    def _request(self, target: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """Return the request's bytes, its head as http.client writes it under urllib3."""
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {self.host}",
            "Accept-Encoding: identity",
            f"Content-Length: {len(body)}",
        ]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"Invalid header value {value!r}")
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("latin-1") + body


def _again_if_stale(conn: HTTPConnection, request: bytes, timeout: float) -> tuple[Answer, bool]:
    """Exchange; if a kept-alive connection fails before any reply byte, once more afresh.

    The server may close an idle connection as the request leaves; the request carries an
    Idempotency-Key, and nothing of it was answered.
    """
    reused = conn.sock is not None
    try:
        return _exchange(conn, request, timeout)
    except _Unanswered as exc:
        conn.close()
        if not reused:
            raise exc.error from exc.__cause__
    try:
        return _exchange(conn, request, timeout)
    except _Unanswered as exc:
        raise exc.error from exc.__cause__


def _exchange(conn: HTTPConnection, request: bytes, timeout: float) -> tuple[Answer, bool]:
    """Send the request and read its reply; return it and whether the connection stays open."""
    reading = _Reading()
    parser = reading.parser
    assert parser is not None
    received = False
    try:
        if conn.sock is None:
            conn.timeout = timeout
            conn.connect()  # TCP and TLS; urllib3 raises NewConnectionError, ConnectTimeoutError
        sock = conn.sock
        if sock.gettimeout() != timeout:
            sock.settimeout(timeout)
        sock.sendall(request)
        while reading.answer is None:
            data = sock.recv(CHUNK)
            if not data:
                if not received:
                    closed = RemoteDisconnected("Remote end closed connection without response")
                    raise _Unanswered(ProtocolError("Connection aborted.", closed))
                reading.ended()
                break
            received = True
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade:  # a 101 to a POST: an answer, not 2xx
                reading.sound = False
                if reading.answer is None:
                    reading.settle()
            except httptools.HttpParserError as exc:
                if reading.answer is None:
                    raise ProtocolError("Connection aborted.", exc) from exc
                reading.sound = False
    except TimeoutError:
        raise
    except OSError as exc:
        error = (
            SSLError(exc)
            if isinstance(exc, ssl.SSLError)
            else ProtocolError("Connection aborted.", exc)
        )
        raise (error if received else _Unanswered(error)) from exc
    finally:
        reading.parser = None  # the parser and its protocol refer to each other
    answer = reading.answer
    assert answer is not None
    body = _decoded(answer.headers.get("Content-Encoding", ""), answer.body)
    return answer._replace(body=body), reading.keep_alive and reading.sound


def _decoded(coding: str, body: bytes) -> bytes:
    """Return a gzip or deflate body inflated, as urllib3 decodes it."""
    coding = coding.strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate") or not body:
        return body
    try:
        if coding != "deflate":
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise DecodeError(
            f"Received response with content-encoding: {coding}, but failed to decode it.", exc
        ) from exc

"""The poster's kept-alive connections against a scripted server: reuse, closes, chunks, TLS."""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
from dataclasses import dataclass, field

import pytest
import requests

from tests.agent.certs import Pki, make_pki
from tocsin.bridge.errors import DeliveryFailed
from tocsin.bridge.notify.channels.http import JsonPoster

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b""  # close the connection instead of answering
SILENT = None  # read the request, answer nothing (until the test ends)


@dataclass
class Scripted:
    """Answers each request in turn with the next reply of a script; notes which connection."""

    replies: list[bytes | None]
    tls: ssl.SSLContext | None = None
    hang_up_after: set[int] = field(default_factory=set)  # requests (from 0) answered, then closed
    requests: list[tuple[int, bytes]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.sockets: list[socket.socket] = []

    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

    @property
    def connections(self) -> int:
        return len({number for number, _ in self.requests})

    def _accept(self) -> None:
        number = 0
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            number += 1
            self.sockets.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(10)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            buffer = b""
            while self.replies:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append((number, head + b"\r\n\r\n" + buffer[:length]))
                buffer = buffer[length:]
                reply = self.replies.pop(0)
                if reply is SILENT:
                    self.done.wait(10)
                    return
                if reply == CLOSE:
                    return
                conn.sendall(reply)
                if len(self.requests) - 1 in self.hang_up_after:
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def __enter__(self) -> Scripted:
        self.threads[0].start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.threads[0].join(10)
        self.listener.close()
        for conn in self.sockets:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(10)


def test_two_posts_share_one_kept_alive_connection() -> None:
    with Scripted([OK, OK]) as server:
        poster = JsonPoster("audit", server.url())
        for key in ("k1", "k2"):
            assert poster.post({"n": key}, key=key).content == b"ok"
    assert server.connections == 1
    assert [request.count(b"Idempotency-Key") for _, request in server.requests] == [1, 1]


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    with Scripted([OK, OK], hang_up_after={0}) as server:
        poster = JsonPoster("audit", server.url())
        poster.post({}, key="k1")
        assert poster.post({}, key="k2").content == b"ok"
    assert [(number, b"Idempotency-Key: k2" in request) for number, request in server.requests] == [
        (1, False),
        (2, True),
    ]


def test_a_request_meeting_a_closing_kept_alive_connection_goes_once_more_afresh() -> None:
    with Scripted([OK, CLOSE, OK]) as server:
        poster = JsonPoster("audit", server.url())
        poster.post({}, key="k1")
        assert poster.post({}, key="k2").content == b"ok"
    assert [number for number, _ in server.requests] == [1, 1, 2]
    assert server.requests[1][1] == server.requests[2][1]
    assert b"Idempotency-Key: k2" in server.requests[2][1]


def test_a_fresh_connection_closed_without_an_answer_is_not_tried_again() -> None:
    with Scripted([CLOSE, OK]) as server:
        with pytest.raises(DeliveryFailed) as caught:
            JsonPoster("audit", server.url()).post({}, key="k")
    assert "cannot connect (ProtocolError)" in caught.value.message
    assert len(server.requests) == 1


def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    with Scripted([closing, OK], hang_up_after={0}) as server:
        poster = JsonPoster("audit", server.url())
        poster.post({}, key="k1")
        assert poster.post({}, key="k2").content == b"ok"
    assert [number for number, _ in server.requests] == [1, 2]


def test_a_slow_answer_on_a_kept_alive_connection_is_a_timeout_not_sent_twice() -> None:
    with Scripted([OK, SILENT]) as server:
        poster = JsonPoster("audit", server.url(), timeout=0.3)
        poster.post({}, key="k1")
        with pytest.raises(DeliveryFailed) as caught:
            poster.post({}, key="k2")
    assert "no answer in 0.3s" in caught.value.message
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("reply", "status", "body", "header"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
         200, b'{"a":1}', None),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok",
         202, b"ok", None),
        (b"HTTP/1.0 200 OK\r\nX-Note: a\r\nx-note: b\r\n\r\nuntil the end", 200, b"until the end",
         "a, b"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
         % (len(gzip.compress(b"inflated")), gzip.compress(b"inflated")), 200, b"inflated", None),
        (b"HTTP/1.1 200 OK\nX-Note: bare\nContent-Length: 2\n\nok", 200, b"ok", "bare"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"2 \r\nok\r\n0\r\n\r\n", 200, b"ok", None),
    ],
    ids=["chunked", "informational-first", "until-close", "gzip", "bare-lf", "length-and-chunks"],
)  # fmt: skip
def test_replies_are_read_whole(reply: bytes, status: int, body: bytes, header: str | None) -> None:
    with Scripted([reply], hang_up_after={0}) as server:
        answer = JsonPoster("audit", server.url()).post({}, key="k")
    assert (answer.status_code, answer.content) == (status, body)
    assert answer.headers.get("X-NOTE") == header


def test_bytes_after_a_reply_keep_it_but_not_its_connection() -> None:
    with Scripted([OK + b"HTTP/1.1 200 OK\r\nX-Note: again\r\n\r\n", OK]) as server:
        poster = JsonPoster("audit", server.url())
        answer = poster.post({}, key="k1")
        assert (answer.content, answer.headers.get("X-Note")) == (b"ok", None)
        poster.post({}, key="k2")
    assert [number for number, _ in server.requests] == [1, 2]


def test_a_switch_of_protocols_is_an_answer_that_failed() -> None:
    switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"
    with Scripted([switch], hang_up_after={0}) as server:
        with pytest.raises(DeliveryFailed) as caught:
            JsonPoster("audit", server.url()).post({}, key="k")
    assert caught.value.message.endswith(": HTTP 101")


def test_a_reply_cut_short_is_a_broken_connection() -> None:
    with Scripted(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], hang_up_after={0}
    ) as server:
        with pytest.raises(DeliveryFailed) as caught:
            JsonPoster("audit", server.url()).post({}, key="k")
    assert "cannot connect (ProtocolError)" in caught.value.message


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


def test_tls_is_verified_against_the_session_ca_and_kept_alive(pki: Pki) -> None:
    session = requests.Session()
    session.verify = str(pki.ca)
    with Scripted([OK, OK], tls=_tls(pki)) as server:
        poster = JsonPoster("audit", server.url(), session=session)
        assert [poster.post({}, key=k).content for k in ("k1", "k2")] == [b"ok", b"ok"]
    assert server.connections == 1


@pytest.mark.parametrize("trusted", [None, "other_ca"])
def test_tls_from_an_unknown_ca_is_refused(pki: Pki, trusted: str | None) -> None:
    session = requests.Session()
    if trusted:
        session.verify = str(getattr(pki, trusted))
    with Scripted([OK], tls=_tls(pki)) as server:
        with pytest.raises(DeliveryFailed) as caught:
            JsonPoster("audit", server.url(), session=session).post({}, key="k")
    assert "cannot connect (SSLError)" in caught.value.message
    assert server.requests == []


def test_a_proxy_still_gets_the_whole_url() -> None:
    with Scripted([OK]) as proxy:
        session = requests.Session()
        session.proxies = {"http": f"http://127.0.0.1:{proxy.port}"}
        session.trust_env = False
        JsonPoster("audit", "http://hooks.invalid/hook?x=1", session=session).post({}, key="k")
    assert proxy.requests[0][1].startswith(b"POST http://hooks.invalid/hook?x=1 HTTP/1.1\r\n")


def test_a_header_value_with_a_line_break_is_refused_not_sent() -> None:
    with Scripted([OK]) as server:
        with pytest.raises(ValueError, match="Invalid header value"):
            JsonPoster("audit", server.url()).post({}, key="k\r\nX-Injected: 1")
    assert server.requests == []

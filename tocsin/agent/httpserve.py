"""An HTTP server with a bounded number of connections, each dropped after a quiet spell.

http.server's ThreadingHTTPServer gives every connection a thread for as long as the client
keeps it open: 300 idle connections are 300 threads. Here at most `max_connections` are open at
once; one that sends nothing for `idle_timeout` seconds is closed, and when all slots are taken a
new connection takes the slot of the connection idle the longest, so a flood of idle sockets
cannot lock Prometheus out. A connection that cannot get a slot within a second is closed.
With TLS the handshake runs on the connection's own thread, within the idle timeout, so a
client that connects and says nothing holds one slot, never the accepting thread.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32
IDLE_TIMEOUT = 30.0
SLOT_WAIT = 1.0


class BoundedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server holding at most `max_connections` connections (and threads)."""

    daemon_threads = True
    # Connections the kernel queues before accept(); http.server's 5 drops bursts of SYNs.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(address, handler)
        self.tls = tls
        self.handshake_failures = 0
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.refused_total = 0
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        # Connections waiting for their next request, with the time they began to wait.
        self._idle: dict[socket.socket, float] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a thread for the connection once it has a slot, or close it."""
        if not self._slots.acquire(blocking=False):
            self._evict_oldest_idle()
            if not self._slots.acquire(timeout=SLOT_WAIT):
                self.refused_total += 1
                log.warning(
                    "/metrics: all %d connections busy; closed a new one", self.max_connections
                )
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; with TLS, wrap it for a handshake on its own thread."""
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve the connection (after its TLS handshake), then give its slot back."""
        try:
            if isinstance(request, ssl.SSLSocket) and not self._handshake(request):
                self.shutdown_request(request)
                return
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._idle.pop(request, None)
            self._slots.release()

    def _handshake(self, connection: ssl.SSLSocket) -> bool:
        """Complete the TLS handshake within the idle timeout; False (counted) if it fails."""
        connection.settimeout(self.idle_timeout)
        try:
            connection.do_handshake()
        except (OSError, ValueError) as exc:
            self.handshake_failures += 1
            log.debug("/metrics: TLS handshake failed: %s", exc)
            return False
        return True

    @property
    def idle_count(self) -> int:
        """Return how many connections wait for their next request."""
        with self._lock:
            return len(self._idle)

    def waiting(self, connection: socket.socket) -> None:
        """Note that a connection waits for its next request (it may be evicted)."""
        with self._lock:
            self._idle[connection] = time.monotonic()

    def working(self, connection: socket.socket) -> None:
        """Note that a connection is sending a request (it keeps its slot)."""
        with self._lock:
            self._idle.pop(connection, None)

    def _evict_oldest_idle(self) -> None:
        with self._lock:
            if not self._idle:
                return
            oldest = min(self._idle, key=self._idle.__getitem__)
            del self._idle[oldest]
        try:
            # Wakes its thread from the read; the thread closes it and frees the slot.
            oldest.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler that tells its BoundedHTTPServer when it waits and when it works."""

    server: BoundedHTTPServer

    def setup(self) -> None:
        """Time out a connection that stays silent for the server's idle timeout."""
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def handle_one_request(self) -> None:
        """Wait for the next request as an evictable connection."""
        self.server.waiting(self.connection)
        super().handle_one_request()

    def parse_request(self) -> bool:
        """Hold the slot while the request is read and answered."""
        self.server.working(self.connection)
        return super().parse_request()

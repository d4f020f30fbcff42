"""Bind serve's `listen` address before anything starts, so a bind fault is one line naming it.

Imported by `serve` alone: uvicorn is a tenth of a second of every other command's start-up.

uvicorn binds late and reports a failure as a bare `[Errno 98] …` after start-up has logged
success; binding here first names the config key, the address and the OS reason, and the
sockets are then handed to uvicorn.

Exit codes: a port held by another process exits 75 (EX_TEMPFAIL), since it often comes free
(the old bridge still stopping), so systemd's Restart=on-failure may retry; an address this host
does not have, a name that does not resolve or a port the user may not bind are config faults,
exit 78, which restarting cannot fix.
"""

from __future__ import annotations

import errno
import logging
import socket

import uvicorn

from tocsin.bridge.errors import AddressInUse, ConfigError

_FIXES = {
    errno.EADDRINUSE: "stop what holds the port, or choose another port",
    errno.EACCES: "ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another port",
}
_DEFAULT_FIX = "give an address of this host, e.g. 127.0.0.1:8080 or 0.0.0.0:8080"
log = logging.getLogger("tocsin.bridge")


def netloc(host: str, port: int) -> str:
    """Return host:port, bracketing an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _fault(place: str, host: str, port: int, code: int | None, reason: str) -> Exception:
    message = (
        f"{place}: listen: {netloc(host, port)} cannot be bound: {reason}; "
        f"{_FIXES.get(code or 0, _DEFAULT_FIX)}"
    )
    return AddressInUse(message) if code == errno.EADDRINUSE else ConfigError(message)


def bind_listener(host: str, port: int, place: str) -> list[socket.socket]:
    """Bind and listen on every address `host` names; raise naming `place` and `listen` if not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise _fault(place, host, port, None, str(exc.strerror)) from exc
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _fault(place, host, port, exc.errno, exc.strerror or str(exc)) from exc
    return sockets


class ListeningServer(uvicorn.Server):
    """uvicorn's server that says it is listening only once it is serving."""

    def __init__(self, config: uvicorn.Config, listening: str) -> None:
        super().__init__(config)
        self._listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            log.info("%s", self._listening)

"""A TCP proxy on 127.0.0.1 that can cut its link: blackhole it (hold every byte) or reset it.

Runs its own asyncio loop in a thread. While blackholed, connections stay open and nothing is
forwarded either way (new ones are accepted and held too), as a silent middlebox or a pulled
cable does; healing lets the held bytes through. A reset aborts every connection and refuses
new ones until healed, as a rebooted firewall does.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future


class Proxy:
    """Forward 127.0.0.1:`port` to `target_host`:`target_port` until told otherwise."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._flowing = asyncio.Event()
        self._refusing = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    def start(self) -> int:
        """Start listening; return the port."""
        self._thread.start()
        self._call(self._start())
        return self.port

    def blackhole(self) -> None:
        """Hold every byte from now on, both ways, on old and new connections."""
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def reset(self) -> None:
        """Abort every connection and refuse new ones until healed."""
        self._call(self._reset())

    def heal(self) -> None:
        """Forward again (held bytes first) and accept new connections."""
        self._call(self._heal())

    def stop(self) -> None:
        """Close everything and stop the loop."""
        self._call(self._reset())
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: object) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        future.result(5)

    async def _start(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _reset(self) -> None:
        self._refusing = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _heal(self) -> None:
        self._refusing = False
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pump(reader, upstream_writer, writer),
            self._pump(upstream_reader, writer, upstream_writer),
            return_exceptions=True,
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
    ) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            for side in (writer, other):
                self._writers.discard(side)
                side.transport.abort()

"""`notify.deliver_from: process`: one process of its own delivers pages, the serving ones none.

A bridge process that both takes alerts and delivers their pages shares one interpreter lock
between the two; with this choice a replica uses one core for intake (the `workers`) and one
for delivery. The parent makes a `DeliveryLink` before forking: a pipe by which a serving
process that queued pages wakes the delivery process at once (its poll stays as the fallback),
and a private directory where the delivery process leaves a snapshot of its counters every
second, which each serving process merges into its /metrics under worker="delivery".
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tocsin.bridge.notify import queue
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store

log = logging.getLogger("tocsin.bridge")
LABEL = "delivery"  # the worker label of the delivery process's samples
SNAPSHOT_SECONDS = 1.0  # how often the delivery process writes its counters for /metrics
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}  # the supervisor forwards these


class DeliveryLink:
    """The wake-up pipe and the metrics directory the delivery process and the serving share."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()  # both close on exec; fork keeps them
        os.set_blocking(self._write, False)  # a full pipe already holds a wake-up
        self.directory = Path(tempfile.mkdtemp(prefix="tocsin-delivery-"))  # mode 0700
        self.snapshot = self.directory / "delivery-metrics.json"

    def serve(self, store: Store, metrics: Metrics) -> None:
        """In a serving process: wake the delivery process on queued pages, show its metrics."""
        store.listen(queue.QUEUED, self.announce)
        metrics.merge(self.snapshot)

    def announce(self) -> None:
        """Wake the delivery process; never blocks a committing transaction."""
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups it has yet to read

    def watch(self, wake: Callable[[], None]) -> None:
        """In the delivery process: call `wake` whenever serving processes announced pages."""

        def run() -> None:
            try:
                while os.read(self._read, 4096):  # one wake for all the bytes waiting
                    wake()
            except OSError:
                return  # the pipe was closed: its process is ending

        threading.Thread(target=run, name="tocsin-delivery-wake", daemon=True).start()

    def close(self) -> None:
        """In the parent, once every child is gone: close the pipe, remove the directory."""
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.directory, ignore_errors=True)


def deliver(config: BridgeConfig, policy: Policy, link: DeliveryLink) -> None:
    """Run the delivery process: only the runtime's delivery worker, until SIGTERM or SIGINT."""
    from tocsin.bridge.notify.install import delivery_worker
    from tocsin.bridge.platform import memory
    from tocsin.bridge.runtime import build_runtime
    from tocsin.bridge.timers.periodic import Periodic

    # Before any thread starts: every thread leaves the stop signals to sigwait below.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    runtime = build_runtime(config, policy=policy)
    runtime.metrics.worker = LABEL
    worker = delivery_worker(runtime.workers)

    def snapshot(_now: datetime | None = None) -> int:
        runtime.metrics.snapshot(link.snapshot)
        return 1

    runtime.workers[:] = [
        worker,
        Periodic("memory-trim", memory.trim, interval=memory.TRIM_SECONDS),
        Periodic("delivery-metrics", snapshot, interval=SNAPSHOT_SECONDS),
    ]
    link.watch(worker.wake)
    runtime.start()
    log.info(
        "tocsin-bridge delivery process (pid %d, %s) delivers the pages; "
        "the %d worker processes serve",
        os.getpid(),
        runtime.store.dialect,
        config.workers,
    )
    memory.settle()
    try:
        signal.sigwait(STOP_SIGNALS)
    finally:
        runtime.stop()  # the worker settles its claimed rows
        snapshot()

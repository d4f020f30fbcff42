"""Run `serve` as several processes on one listening socket, so the bridge uses more than one core.

The parent binds the listener, migrates, then forks `workers` children before any thread or
database connection exists; each child builds its own runtime and serves the inherited sockets
(the kernel hands each new connection to one of them). Background jobs (timers, the silence
sweep, pruning, indexing, mail intake, scheduled reports) run in the first child only, so they
behave as with one process; every child delivers pages (notify.deliver_from: every, the
default; `first` leaves delivery to the first child too; `process` forks one more child that
only delivers, see server/delivery.py, and the serving ones deliver none). The parent stays as a
supervisor: it forwards SIGTERM/SIGINT to the children, and when one exits on its own it stops
the others and exits with that child's code, so systemd (Restart=on-failure) restarts the whole
bridge rather than leaving it short of a worker or of its background jobs.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from functools import partial
from types import FrameType

from tocsin.common.sdnotify import Notifier

log = logging.getLogger("tocsin.bridge")
STOP_GRACE_SECONDS = 30.0  # children still running this long after a stop are killed


def run_workers(
    count: int,
    serve: Callable[[int], None],
    ready: Callable[[], bool],
    notifier: Notifier | None = None,
    deliver: Callable[[], None] | None = None,
) -> int:
    """Fork `count` children running serve(index), and one running deliver() if given, and
    supervise them; return the exit code."""
    jobs: list[tuple[str, Callable[[], None]]] = [
        (f"worker process {index + 1}", partial(serve, index)) for index in range(count)
    ]
    if deliver is not None:
        jobs.append(("delivery process", deliver))
    children: dict[int, str] = {}
    for name, job in jobs:
        pid = os.fork()
        if pid == 0:
            _child(job, name)
        children[pid] = name
    supervisor = _Supervisor(children)
    previous = {sig: signal.signal(sig, supervisor.forward) for sig in _FORWARDED}
    watchdog = None
    if notifier is not None and notifier.enabled:
        from tocsin.bridge.server.systemd import Watchdog

        watchdog = Watchdog(
            notifier,
            is_started=ready,
            is_exiting=lambda: supervisor.stopping,
            probe=ready,
            status=f"serving, {count} worker processes"
            + ("" if deliver is None else " and a delivery process"),
        )
        watchdog.start()
    try:
        return supervisor.wait()
    finally:
        if watchdog is not None:
            watchdog.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_FORWARDED = (signal.SIGTERM, signal.SIGINT)


def _child(job: Callable[[], None], name: str) -> None:
    """Run a forked child's job and leave with os._exit, never returning into the parent's code."""
    code = 1
    try:
        job()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("%s failed", name)
    finally:
        logging.shutdown()
        os._exit(code)


class _Supervisor:
    """Reap the children; on a signal or a child's own exit, stop them all."""

    def __init__(self, children: dict[int, str]) -> None:
        self.children = children
        self.stopping = False
        self._killer: threading.Timer | None = None

    def forward(self, signum: int, _frame: FrameType | None) -> None:
        """Pass a stop signal to every child."""
        self._stop(signum)

    def wait(self) -> int:
        """Wait for every child (one os.wait per child); return the first failing child's code."""
        code = 0
        for _ in range(len(self.children)):
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            name = self.children.pop(pid, None)
            exit_code = os.waitstatus_to_exitcode(status)
            if name is not None and not self.stopping:
                log.error(
                    "%s (pid %d) exited with %d; stopping the bridge",
                    name,
                    pid,
                    exit_code,
                )
                code = exit_code if exit_code > 0 else 1
                self._stop(signal.SIGTERM)
        if self._killer is not None:
            self._killer.cancel()
        return code

    def _stop(self, signum: int) -> None:
        self.stopping = True
        for pid in list(self.children):
            _signal(pid, signum)
        if self._killer is None:
            self._killer = threading.Timer(STOP_GRACE_SECONDS, self._kill)
            self._killer.daemon = True
            self._killer.start()

    def _kill(self) -> None:
        for pid in list(self.children):
            log.warning("worker process pid %d did not stop in %.0fs; killing it", pid,
                        STOP_GRACE_SECONDS)  # fmt: skip
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass  # already gone; os.wait reaps it

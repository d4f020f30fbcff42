"""SLA reports computed in processes of their own, so a report's CPU never holds intake's GIL.

A month's report over a long history takes seconds of pure Python; in the serving process it
holds the interpreter lock that new alerts need (their p99 went from a few to hundreds of ms).
Here each report goes to a long-lived process, started at first use with the "spawn" method
(never forked from a threaded server), which opens the database itself and sends the report
back whole, so every rendering is what it was; the API's JSON it sends ready to go out, as
decoding and encoding a month of 1,000,000 incidents (25,000 breaches) costs the serving
process 0.2 s of CPU. At most `processes` reports run at once and
`queue` more wait; past that, or when a report takes longer than `timeout` (its process is then
killed and started again at the next report), the caller gets ReportsBusy: 503 with
Retry-After. With `processes` 0, or an in-memory SQLite database, reports run in the caller.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess

from tocsin.bridge.errors import BridgeError, ReportsBusy
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.query import load_report
from tocsin.bridge.reports.render import report_to_dict
from tocsin.bridge.store.db import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportRequest:
    """What a report process needs besides the database: the policy and the window."""

    policy: Policy
    since: datetime
    until: datetime
    now: datetime
    team: str | None = None
    priority: str | None = None

    def run(self, store: Store) -> SlaReport:
        """Compute the report on a read connection of `store`."""
        with store.connect() as conn:
            return load_report(
                conn,
                self.policy,
                since=self.since,
                until=self.until,
                now=self.now,
                team=self.team,
                priority=self.priority,
            )


def json_body(report: SlaReport) -> bytes:
    """Return the report's JSON document as the API sends it (as Starlette's JSONResponse)."""
    document = report_to_dict(report)
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")


def answer(store: Store, request: ReportRequest, as_json: bool) -> SlaReport | bytes:
    """Return the report, or its JSON document when `as_json`."""
    report = request.run(store)
    return json_body(report) if as_json else report


def serve(pipe: Pipe, url: str, statement_timeout: float) -> None:
    """Answer each request on the pipe until the bridge closes it (the report process's body)."""
    store = Store(url, pool_size=1, statement_timeout=statement_timeout)
    try:
        while True:
            try:
                request, as_json = pipe.recv()
            except EOFError:
                return
            try:
                pipe.send((True, answer(store, request, as_json)))
            except BridgeError as exc:
                pipe.send((False, (exc.http_status, exc.message)))
            except Exception as exc:  # a bug: said to the bridge, and the process goes on
                log.exception("SLA report failed")
                pipe.send((False, (500, f"the report failed: {type(exc).__name__}")))
    finally:
        store.dispose()


class _Process:
    """One report process and its pipe; started when first asked, killed when it overruns."""

    def __init__(self, url: str, statement_timeout: float) -> None:
        self.url = url
        self.statement_timeout = statement_timeout
        self.process: BaseProcess | None = None
        self.pipe: Pipe | None = None

    def ask(
        self, request: ReportRequest, as_json: bool, timeout: float, retry_after: int
    ) -> SlaReport | bytes:
        if self.process is None or not self.process.is_alive():
            self.close()
            self._start()
        assert self.pipe is not None
        try:
            self.pipe.send((request, as_json))
            if not self.pipe.poll(timeout):
                self.close()
                log.warning("SLA report over %ss: its process is killed", timeout)
                raise ReportsBusy(f"the report took longer than {timeout:g}s", retry_after)
            ok, value = self.pipe.recv()
        except (EOFError, OSError) as exc:
            self.close()
            log.warning("SLA report process ended (%s); it is started again", exc)
            raise ReportsBusy("the report process ended; try again", retry_after) from exc
        if ok:
            result: SlaReport | bytes = value
            return result
        status, message = value
        if status == 503:
            raise ReportsBusy(message, retry_after)
        raise BridgeError(message)

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve,
            args=(theirs, self.url, self.statement_timeout),
            name="tocsin-reports",
            daemon=True,
        )
        process.start()
        theirs.close()
        self.process, self.pipe = process, ours

    def close(self) -> None:
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None
        if self.process is not None:
            self.process.kill()
            self.process.join(5)
            self.process = None


class ReportRunner:
    """Compute SLA reports in `processes` processes of their own (0: in the caller)."""

    def __init__(
        self,
        store: Store,
        *,
        processes: int = 1,
        queue: int = 4,
        timeout: float = 300.0,
        retry_after: int = 2,
        statement_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.in_caller = processes == 0 or store.url in ("sqlite://", "sqlite:///:memory:")
        self.queue = queue
        self.timeout = timeout
        self.retry_after = retry_after
        count = 0 if self.in_caller else processes
        self._all = [_Process(store.url, statement_timeout) for _ in range(count)]
        self._free = list(self._all)
        self._ready = threading.Condition()
        self._waiting = 0

    def report(self, request: ReportRequest) -> SlaReport:
        """Return the report; ReportsBusy when too many wait, it took too long, or it died."""
        report = self._answer(request, as_json=False)
        assert isinstance(report, SlaReport)
        return report

    def report_json(self, request: ReportRequest) -> bytes:
        """Return the report's JSON document as the API sends it; ReportsBusy as report()."""
        body = self._answer(request, as_json=True)
        assert isinstance(body, bytes)
        return body

    def _answer(self, request: ReportRequest, as_json: bool) -> SlaReport | bytes:
        if self.in_caller:
            return answer(self.store, request, as_json)
        deadline = time.monotonic() + self.timeout
        process = self._take(deadline)
        try:
            left = max(0.0, deadline - time.monotonic())
            return process.ask(request, as_json, left, self.retry_after)
        finally:
            with self._ready:
                self._free.append(process)
                self._ready.notify()

    def _take(self, deadline: float) -> _Process:
        with self._ready:
            if not self._free and self._waiting >= self.queue:
                log.warning("SLA report refused: %s already wait for a process", self._waiting)
                raise ReportsBusy("too many reports at once; try again", self.retry_after)
            self._waiting += 1
            try:
                while not self._free:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ReportsBusy("no report process came free in time", self.retry_after)
                    self._ready.wait(left)
                return self._free.pop()
            finally:
                self._waiting -= 1

    def start(self) -> None:
        """Nothing to do: a process starts at its first report (installs that never ask pay none)."""

    def stop(self) -> None:
        """Kill the report processes (one mid-report is given up)."""
        for process in self._all:
            process.close()

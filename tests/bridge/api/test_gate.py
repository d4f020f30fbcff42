"""The ingest gate: refused before the body when the store's queue is full; threads end after a burst."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from functools import partial
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from tocsin.bridge.api.errors import bridge_error_response
from tocsin.bridge.api.limits import IngestGate
from tocsin.bridge.errors import Overloaded
from tocsin.bridge.platform.metrics import Metrics


async def _never() -> dict[str, object]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _request() -> Request:
    app = SimpleNamespace(state=SimpleNamespace())
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "app": app}
    return Request(scope, _never)


def test_a_full_store_queue_refuses_a_request_before_it_takes_a_place() -> None:
    metrics = Metrics()
    full = Overloaded("ingest queue full", 2, "queue_full")
    gate = IngestGate(metrics, max_requests=4, timeout=5, retry_after=2, refusal=lambda: full)

    async def enter() -> None:
        async with gate.slot():
            raise AssertionError("admitted")

    with pytest.raises(Overloaded) as refused:
        asyncio.run(enter())
    gate.close()
    assert refused.value is full and gate.in_hand == 0
    assert metrics.ingest_shed.labels(reason="queue_full")._value.get() == 1


def test_after_a_burst_the_gate_ends_its_threads_and_starts_a_fresh_pool() -> None:
    gate = IngestGate(Metrics(), max_requests=4, timeout=5, retry_after=2, idle=0.05)

    async def burst() -> list[threading.Thread]:
        async def one() -> threading.Thread:
            async with gate.slot() as slot:
                return await slot.run(_request(), lambda _gone: threading.current_thread())

        workers = await asyncio.gather(*(one() for _ in range(4)))
        for _ in range(100):
            if gate.renewals:
                break
            await asyncio.sleep(0.05)
        return workers

    workers = asyncio.run(burst())
    for worker in set(workers):
        worker.join(5)
    gate.close()
    assert gate.renewals == 1
    assert not any(worker.is_alive() for worker in workers)


class _Alerts:
    """Stands for a request's parsed alerts, held by the frames its refusal passed."""


def _refuse(_alerts: _Alerts, _gone: threading.Event) -> None:
    refused = Overloaded("not committed within 0.5s", 2, "queue_timeout")
    raise refused  # its own frame holds it, as the store's frames hold their refusals


def test_an_answered_refusal_leaves_nothing_for_the_cyclic_collector() -> None:
    gate = IngestGate(Metrics(), max_requests=4, timeout=5, retry_after=2)
    held = [_Alerts()]
    freed = weakref.ref(held[0])

    async def answer() -> int:
        request = _request()
        try:
            async with gate.slot() as slot:
                await slot.run(request, partial(_refuse, held.pop()))
        except Overloaded as exc:
            return bridge_error_response(request, exc).status_code
        raise AssertionError("stored")

    gc.disable()  # what is freed must go by reference counting alone
    try:
        assert asyncio.run(answer()) == 503
        assert freed() is None
    finally:
        gc.enable()
        gate.close()

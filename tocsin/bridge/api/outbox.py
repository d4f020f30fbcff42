"""/api/v1/outbox: see what waits or died in the outbox, and send a dead letter again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.api.params import RowId
from tocsin.bridge.notify import queue

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])
Operator = Annotated[Principal, Depends(auth.manager)]


@router.get("")
def list_outbox(
    _who: Operator,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """List outbox entries newest first (status=pending|delivered|dead|dropped), with the queue's counts."""
    with runtime.store.connect() as conn:
        rows = queue.list_rows(conn, status=status, limit=limit)
        counts = queue.counts(conn)
    return {"entries": [row.to_json() for row in rows], "counts": counts}


@router.post("/{entry_id}/retry")
def retry_entry(entry_id: RowId, _who: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    """Make an entry due now with a fresh set of attempts (a dead letter after a fix)."""
    with runtime.store.begin() as conn:
        row = queue.retry(conn, entry_id, runtime.clock())
    return row.to_json()

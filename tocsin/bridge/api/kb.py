"""The knowledge base over HTTP: past incidents like this one, and a word search of solutions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import get_runtime
from tocsin.bridge.api.params import RowId
from tocsin.bridge.kb import search as kb
from tocsin.bridge.runtime import Runtime

router = APIRouter(tags=["knowledge base"])
Operator = Annotated[Principal, Depends(auth.reader)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Limit = Annotated[int, Query(ge=1, le=50)]


@router.get("/api/v1/incidents/{incident_id}/similar")
def similar(
    incident_id: RowId, _who: Operator, runtime: RuntimeDep, limit: Limit = 5
) -> dict[str, Any]:
    """List resolved incidents most like this one, with their root causes and solutions."""
    with runtime.store.connect() as conn:
        matches = kb.similar(conn, incident_id, limit)
    return {"incident_id": incident_id, "similar": [kb.match_to_dict(m) for m in matches]}


@router.get("/api/v1/kb/search")
def search(
    _who: Operator,
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Limit = 10,
) -> dict[str, Any]:
    """Find past root causes and solutions by words, in English or Chinese."""
    with runtime.store.connect() as conn:
        matches = kb.search(conn, q, limit)
    return {"query": q, "results": [kb.match_to_dict(m) for m in matches]}

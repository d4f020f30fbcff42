"""GET /api/v1/oncall: who is on call now (or at ?at=), with names, from the running policy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.paging.roster import parse_instant, roster

router = APIRouter(tags=["on-call"])
Operator = Annotated[Principal, Depends(auth.reader)]


@router.get("/api/v1/oncall")
def oncall(
    _who: Operator,
    runtime: RuntimeDep,
    at: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """Return who is on call per schedule, layer and team, at `at` (RFC 3339) or now."""
    instant = parse_instant(at, "at") if at else runtime.clock()
    return roster(runtime.policy, instant)

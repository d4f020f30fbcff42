"""Record why a deadline was missed, and whether the miss is exempt from the figures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from tocsin.bridge.errors import Conflict, InvalidInput, NotFound
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import CLOCKS
from tocsin.bridge.store.schema import sla_clocks


def record_reason(
    conn: Connection, incident_id: int, clock: str, *, reason: str, exempt: bool
) -> dict[str, Any]:
    """Set the breach reason and exemption of a breached clock; return the clock's breach."""
    if clock not in CLOCKS:
        raise InvalidInput(f"clock {clock!r} is not one of {', '.join(CLOCKS)}", field="clock")
    where = (sla_clocks.c.incident_id == incident_id) & (sla_clocks.c.clock == clock)
    row = conn.execute(select(sla_clocks).where(where)).first()
    if row is None:
        raise NotFound(f"incident {incident_id} has no {clock} clock")
    if row.breached_at is None:
        raise Conflict(
            f"the {clock} clock of incident {incident_id} was not breached; only a missed deadline takes a reason"
        )
    conn.execute(update(sla_clocks).where(where).values(breach_reason=reason, breach_exempt=exempt))
    return {
        "incident_id": incident_id,
        "clock": clock,
        "breached_at": rfc3339(row.breached_at),
        "reason": reason,
        "exempt": exempt,
    }

"""Record why a deadline was missed, whether the miss is exempt, and disputes of it.

A breach can be disputed with a reason (by any operator); a manager (a person the policy marks
`manager: true`, signed in with an operator token of that name) decides it: upheld, it stays a
breach; exempted, it moves to the exemptions and out of the shares within target. The report
shows the dispute and the decision beside the breach.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from tocsin.bridge.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import CLOCKS, Policy
from tocsin.bridge.store.schema import sla_clocks

DECISIONS = ("upheld", "exempted")


def _breached(conn: Connection, incident_id: int, clock: str, what: str) -> Row[Any]:
    if clock not in CLOCKS:
        raise InvalidInput(f"clock {clock!r} is not one of {', '.join(CLOCKS)}", field="clock")
    row = conn.execute(
        select(sla_clocks).where(
            sla_clocks.c.incident_id == incident_id, sla_clocks.c.clock == clock
        )
    ).first()
    if row is None:
        raise NotFound(f"incident {incident_id} has no {clock} clock")
    if row.breached_at is None:
        raise Conflict(
            f"the {clock} clock of incident {incident_id} was not breached; only a missed "
            f"deadline takes {what}"
        )
    return row


def _set(conn: Connection, incident_id: int, clock: str, **values: Any) -> None:
    conn.execute(
        update(sla_clocks)
        .where(sla_clocks.c.incident_id == incident_id, sla_clocks.c.clock == clock)
        .values(**values)
    )


def record_reason(
    conn: Connection, incident_id: int, clock: str, *, reason: str, exempt: bool
) -> dict[str, Any]:
    """Set the breach reason and exemption of a breached clock; return the clock's breach."""
    row = _breached(conn, incident_id, clock, "a reason")
    _set(conn, incident_id, clock, breach_reason=reason, breach_exempt=exempt)
    return {
        "incident_id": incident_id,
        "clock": clock,
        "breached_at": rfc3339(row.breached_at),
        "reason": reason,
        "exempt": exempt,
    }


def dispute(
    conn: Connection, incident_id: int, clock: str, *, reason: str, actor: str, now: datetime
) -> dict[str, Any]:
    """Dispute a breach with a reason, for a manager to decide."""
    row = _breached(conn, incident_id, clock, "a dispute")
    if row.dispute_decision is not None:
        raise Conflict(
            f"the dispute of the {clock} breach of incident {incident_id} was already decided: "
            f"{row.dispute_decision} by {row.decided_by}"
        )
    _set(conn, incident_id, clock, dispute_reason=reason, disputed_by=actor, disputed_at=now)
    return {"incident_id": incident_id, "clock": clock, "dispute": reason, "by": actor}


def decide(
    conn: Connection,
    policy: Policy,
    incident_id: int,
    clock: str,
    *,
    decision: str,
    note: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Decide a disputed breach as a manager: upheld keeps it, exempted exempts it."""
    person = policy.people.get(actor)
    if person is None or not person.manager:
        raise Forbidden(
            f"{actor!r} may not decide disputes: only a person marked 'manager: true' under "
            "'people' in the policy, signed in with an operator token of that name"
        )
    if decision not in DECISIONS:
        raise InvalidInput(
            f"decision {decision!r} is not one of {', '.join(DECISIONS)}", field="decision"
        )
    row = _breached(conn, incident_id, clock, "a decision")
    if row.dispute_reason is None:
        raise Conflict(f"the {clock} breach of incident {incident_id} is not disputed")
    _set(
        conn,
        incident_id,
        clock,
        dispute_decision=decision,
        decided_by=actor,
        decided_at=now,
        decision_note=note,
        breach_exempt=decision == "exempted",
    )
    return {"incident_id": incident_id, "clock": clock, "decision": decision, "by": actor}

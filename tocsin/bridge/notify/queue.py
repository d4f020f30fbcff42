"""The outbox table's operations: enqueue, claim with a lease, settle, list and retry.

A row is pending until a receiver accepted it (delivered) or it ran out of attempts (dead).
A worker claims due rows for a lease. A row whose lease ran out while another worker held it
may have been delivered by that worker, which could not record it yet (a database partition):
the first claim after that only holds it for the old owner one more lease ("?" + its name),
during which the owner can still record its success; only a claim after that delivers it
again, and says so (`Row.maybe_sent`). So a crash between acceptance and the mark repeats a
page at most once, after two leases, and a partition shorter than two leases repeats none.
Delivery is at least once: a repeat carries the row's idempotency key, by which a receiver
that honours it (the webhook's Idempotency-Key, a mail's Message-ID) folds it.
A claim leaves alone an incident's rows to a channel while another worker holds one of them,
so an incident's pages to a channel leave in order from any number of processes and replicas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tocsin.bridge.errors import Conflict, InvalidInput, NotFound
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.store.bulk import insert_rows
from tocsin.bridge.store.db import announce
from tocsin.bridge.store.schema import outbox

STATUSES = ("pending", "delivered", "dead", "dropped")  # dropped: stale before it left
MAILTO = "mailto:"  # channel value of a page mailed straight to a person's address


@dataclass(frozen=True)
class Row:
    """An outbox entry as the worker and the API see it."""

    id: int
    channel: str
    recipient: str | None
    idempotency_key: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    incident_id: int | None
    event_id: int | None
    provider_ref: str | None = None  # a phone provider's message or call id, once accepted
    provider_status: str | None = None  # sending, accepted, then the provider's own statuses
    # Claimed after an owner's lease and the hold for it ran out: it may have been sent already.
    maybe_sent: bool = False

    def carrying(self, payload: Mapping[str, Any]) -> Row:
        """Return the row with another payload: its page, rendered as it leaves.

        What dataclasses.replace makes, at a seventh of its cost (a storm renders every page):
        the fields copied as they are, none computed at construction.
        """
        row = object.__new__(Row)
        vars(row).update(vars(self), payload=payload)
        return row

    def to_json(self) -> dict[str, Any]:
        """Return the entry for the API and CLI, without the payload (it holds ack links)."""
        body = self.payload.get("body")
        return {
            "id": self.id,
            "channel": self.channel,
            "recipient": self.recipient,
            "incident_id": self.incident_id,
            # A page queued unrendered names its event kind under "render" (notify.outbox).
            "event": body.get("event") if isinstance(body, Mapping) else self.payload.get("render"),
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": rfc3339(self.next_attempt_at),
            "last_error": self.last_error,
            "created_at": rfc3339(self.created_at),
            "delivered_at": rfc3339(self.delivered_at),
            "idempotency_key": self.idempotency_key,
            "provider_ref": self.provider_ref,
            "provider_status": self.provider_status,
        }


def _row(raw: Any, maybe_sent: bool = False) -> Row:
    # Read by mapping (a fourth of an attribute's cost) and every field set straight, as
    # `carrying` does (Row's frozen __init__ costs three times that): a storm claims every page.
    values = raw._mapping
    delivered_at = values["delivered_at"]
    row = object.__new__(Row)
    vars(row).update(
        id=int(values["id"]),
        channel=values["channel"],
        recipient=values["recipient"],
        idempotency_key=values["idempotency_key"],
        payload=values["payload"],
        status=values["status"],
        attempts=int(values["attempts"]),
        next_attempt_at=as_utc(values["next_attempt_at"]),
        last_error=values["last_error"],
        created_at=as_utc(values["created_at"]),
        delivered_at=as_utc(delivered_at) if delivered_at else None,
        incident_id=values["incident_id"],
        event_id=values["event_id"],
        provider_ref=values["provider_ref"],
        provider_status=values["provider_status"],
        maybe_sent=maybe_sent,
    )
    return row


def safe_key(readable: str, prefix: str) -> str:
    """Return `readable` if it can travel as a header value, else `prefix` and its digest."""
    if len(readable) <= 100 and readable.isascii() and " " not in readable:
        return readable
    return f"{prefix}{hashlib.sha256(readable.encode()).hexdigest()[:40]}"


def idempotency_key(event_id: int, channel: str, recipient: str | None) -> str:
    """Return the stable key of one delivery: the same event to the same place is one page."""
    return safe_key(f"tocsin-{event_id}-{channel}-{recipient or 'all'}", f"tocsin-{event_id}-")


def outbox_row(
    *,
    key: str,
    channel: str,
    payload: Mapping[str, Any],
    now: datetime,
    recipient: str | None = None,
    event_id: int | None = None,
    incident_id: int | None = None,
) -> dict[str, Any]:
    """Return a pending row to queue under `key`; rows about no event carry no ids."""
    return {
        "event_id": event_id,
        "incident_id": incident_id,
        "channel": channel,
        "recipient": recipient,
        "idempotency_key": key,
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


QUEUED = "outbox"  # the topic a transaction that queued rows announces (Store.listen)


def enqueue_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows built by outbox_row() in one statement; a key already queued is skipped."""
    if rows:
        insert_rows(conn, outbox, rows, skip_existing="idempotency_key")
        announce(conn, QUEUED)


def insert_once(conn: Connection, row: Mapping[str, Any]) -> bool:
    """Insert a row built by outbox_row() unless its key is queued; return whether it was."""
    result = conn.execute(_QUEUE[conn.dialect.name].returning(outbox.c.id), dict(row))
    announce(conn, QUEUED)
    return result.first() is not None  # the new row's id; nothing when one was there


# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statements. A row
# already queued under a key is left as it is, in the same statement.
_QUEUE = {
    "postgresql": postgresql_insert(outbox).on_conflict_do_nothing(
        index_elements=[outbox.c.idempotency_key]
    ),
    "sqlite": sqlite_insert(outbox).on_conflict_do_nothing(
        index_elements=[outbox.c.idempotency_key]
    ),
}


def _due(now: datetime) -> Any:
    free = or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
    return and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now, free)


_PEER = outbox.alias("peer")


def _claimable(now: datetime, worker: str) -> Any:
    """Return the condition of a due row whose incident's pages to its channel no other holds.

    A row of an incident waits while another pending row of that incident and channel is
    claimed by (or held for) another worker: an incident's pages to a channel are in one
    worker's hands at a time, so they leave in order even from several processes or replicas.
    A row waiting for its retry holds nothing back (as a failed page never did), and neither
    does a settled one: settling clears the lease, so only a pending row holds one (which is why
    the status is not asked, leaving the incident-and-channel index the only one to use).
    """
    held_elsewhere = (
        select(_PEER.c.id)
        .where(
            _PEER.c.incident_id == outbox.c.incident_id,
            _PEER.c.channel == outbox.c.channel,
            _PEER.c.id != outbox.c.id,
            _PEER.c.claimed_until >= now,
            _PEER.c.claimed_by != worker,
        )
        .exists()
    )
    return and_(_due(now), ~held_elsewhere)


def has_due(conn: Connection, now: datetime, worker: str) -> bool:
    """Return whether `worker` could claim a row, with a read only (an idle one takes no lock)."""
    query = select(outbox.c.id).where(_claimable(now, worker)).limit(1)
    return conn.execute(query).first() is not None


# The PostgreSQL advisory lock that claims take in turn: row locks alone (SKIP LOCKED) would let
# two transactions each claim a different row of one incident, neither seeing the other's claim.
# SQLite's write transaction (BEGIN IMMEDIATE) already serialises them.
CLAIM_LOCK = int.from_bytes(hashlib.sha256(b"tocsin outbox claim").digest()[:8], "big", signed=True)


def claim(
    conn: Connection, *, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Row]:
    """Claim up to `limit` due rows for `worker` until now + lease; skip rows others hold.

    Rows are claimed in the order they fell due, skipping those whose incident's pages to the
    channel are held elsewhere (see _claimable) and those of an incident and channel whose
    row is held here for its old owner in the same claim.
    """
    query = (
        select(outbox)
        .where(_claimable(now, worker))
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # Taken before the claim's query starts, which then sees the claims committed before.
        conn.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
        query = query.with_for_update(skip_locked=True)
    found = [(_row(raw, raw.claimed_by is not None), raw.claimed_by) for raw in conn.execute(query)]
    orphans = [(row, str(owner)) for row, owner in found if _orphaned(owner)]
    waiting = {(row.channel, row.incident_id) for row, _ in orphans if row.incident_id is not None}
    rows = [
        row
        for row, owner in found
        if not _orphaned(owner) and (row.channel, row.incident_id) not in waiting
    ]
    if rows:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([row.id for row in rows]))
            .values(claimed_by=worker, claimed_until=now + lease)
        )
    if orphans:
        # Held one more lease for the owner whose lease ran out: it may yet record a delivery.
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(claimed_by=bindparam("held_for"), claimed_until=now + lease),
            [{"row_id": row.id, "held_for": HELD + owner[:99]} for row, owner in orphans],
        )
    return rows


HELD = "?"  # prefix of claimed_by while a row waits for the owner whose lease ran out


def _orphaned(owner: str | None) -> bool:
    """Return whether a due row's last claim belonged to a worker whose lease ran out."""
    return owner is not None and not owner.startswith(HELD)


def _held(row_id: int, worker: str) -> Any:
    mine = outbox.c.claimed_by.in_([worker, HELD + worker[:99]])
    return and_(outbox.c.id == row_id, mine, outbox.c.status == "pending")


def _still_mine(rows: Sequence[Row], worker: str) -> tuple[Any, ...]:
    """Return the conditions of rows still pending and claimed by (or held for) `worker`."""
    return (
        outbox.c.id.in_([row.id for row in rows]),
        outbox.c.claimed_by.in_([worker, HELD + worker[:99]]),
        outbox.c.status == "pending",
    )


def renew(
    conn: Connection, rows: Sequence[Row], *, worker: str, now: datetime, lease: timedelta
) -> None:
    """Extend this worker's lease on rows it still holds (a slow channel's waiting rows)."""
    if rows:
        conn.execute(
            update(outbox).where(*_still_mine(rows, worker)).values(claimed_until=now + lease)
        )


def release(conn: Connection, rows: Sequence[Row], *, worker: str) -> None:
    """Give back claimed rows this worker will not try (it is stopping): due at once elsewhere."""
    if rows:
        conn.execute(
            update(outbox)
            .where(*_still_mine(rows, worker))
            .values(claimed_by=None, claimed_until=None)
        )


def mark_delivered_many(
    conn: Connection, rows: Sequence[Row], *, worker: str, now: datetime
) -> int:
    """Record the acceptance of many rows in one statement; return how many were still ours."""
    if not rows:
        return 0
    result = conn.execute(
        update(outbox)
        .where(*_still_mine(rows, worker))
        .values(
            status="delivered",
            attempts=outbox.c.attempts + 1,
            delivered_at=now,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )  # fmt: skip
    )
    return int(result.rowcount)


def mark_dropped(
    conn: Connection, rows: Sequence[Row], *, worker: str, reason: str, now: datetime
) -> None:
    """Settle claimed rows that will not be sent because they no longer help (stale pages)."""
    conn.execute(
        update(outbox)
        .where(
            outbox.c.id.in_([row.id for row in rows]),
            outbox.c.claimed_by == worker,
            outbox.c.status == "pending",
        )
        .values(
            status="dropped",
            last_error=reason,
            claimed_by=None,
            claimed_until=None,
            delivered_at=now,
        )  # fmt: skip
    )


def mark_failed(
    conn: Connection,
    row: Row,
    *,
    worker: str,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: due again at retry_at, or dead when retry_at is None."""
    values: dict[str, Any] = {
        "attempts": row.attempts + 1,
        "last_error": error[:2000],
        "claimed_by": None,
        "claimed_until": None,
    }
    if retry_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    result = conn.execute(update(outbox).where(_held(row.id, worker)).values(**values))
    return bool(result.rowcount)


def counts(conn: Connection) -> dict[str, int]:
    """Return how many rows are pending and dead."""
    query = (
        select(outbox.c.status, func.count())
        .where(outbox.c.status.in_(("pending", "dead")))
        .group_by(outbox.c.status)
    )
    found = {status: int(n) for status, n in conn.execute(query)}
    return {"pending": found.get("pending", 0), "dead": found.get("dead", 0)}


def list_rows(conn: Connection, *, status: str | None, limit: int = 100) -> list[Row]:
    """Return rows newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(outbox.c.status == status)
    return [_row(raw) for raw in conn.execute(query)]


def get_row(conn: Connection, row_id: int) -> Row:
    """Return one row, or raise NotFound."""
    raw = conn.execute(select(outbox).where(outbox.c.id == row_id)).first()
    if raw is None:
        raise NotFound(f"no outbox entry {row_id}")
    return _row(raw)


def retry(conn: Connection, row_id: int, now: datetime) -> Row:
    """Make a dead (or waiting) entry due now with a fresh set of attempts."""
    row = get_row(conn, row_id)
    if row.status == "delivered":
        raise Conflict(f"outbox entry {row_id} was already delivered; nothing to retry")
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(
            status="pending", attempts=0, next_attempt_at=now, claimed_by=None, claimed_until=None
        )
    )
    return get_row(conn, row_id)

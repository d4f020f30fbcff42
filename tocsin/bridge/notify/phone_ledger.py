"""Provider-accepted means sent: the outbox row remembers a phone send before and after it happens.

Before asking the provider, the row is marked `sending` in a transaction of its own; once the
provider accepted, its message or call id (`provider_ref`) is written at once, apart from the
worker's batched mark. So whatever happens next (a crash, a lost database, a lease running out),
the next attempt finds either the id (the page went out: recorded as delivered, not resent) or a
`sending` with no id (it may have gone out: a dead letter saying so, never a second call).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from tocsin.bridge.errors import DeliveryUncertain
from tocsin.bridge.notify.personal import hurry
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import outbox

SENDING = "sending"
REFUSED = "refused"  # the provider will not take it (a bad number, an unapproved template)
ACCEPTED = "accepted"
# Provider statuses that mean the person was not reached (Twilio's message and call statuses).
UNREACHED = frozenset({"failed", "undelivered", "no-answer", "busy", "canceled"})


class Ledger:
    """Reads and writes the provider columns of outbox rows, each in its own transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def before(self, key: str) -> str | None:
        """Mark the row sending; return the provider's id if it already accepted this page.

        Raises DeliveryUncertain if an earlier attempt was sending and never settled.
        """
        with self.store.begin() as conn:
            found = conn.execute(
                select(outbox.c.provider_ref, outbox.c.provider_status).where(
                    outbox.c.idempotency_key == key
                )
            ).first()
            if found is not None and found.provider_ref:
                return str(found.provider_ref)
            if found is not None and found.provider_status == SENDING:
                raise DeliveryUncertain(
                    f"an earlier attempt at {key} was interrupted after it was sent to the "
                    "provider; it may have been accepted, so it is not sent again: check the "
                    "provider's console"
                )
            conn.execute(
                update(outbox)
                .where(outbox.c.idempotency_key == key)
                .values(provider_status=SENDING)
            )
        return None

    def accepted(self, key: str, ref: str) -> None:
        """Record the provider's id of the accepted page."""
        self._set(key, provider_ref=ref[:100], provider_status=ACCEPTED)

    def not_sent(self, key: str) -> None:
        """Clear the sending mark: the provider surely did not take it, so a retry may send it."""
        self._set(key, provider_status=None)

    def refused(self, key: str, now: datetime) -> None:
        """Record a provider's refusal; a person's next rule step after this page fires now."""
        with self.store.begin() as conn:
            found = conn.execute(
                update(outbox)
                .where(outbox.c.idempotency_key == key)
                .values(provider_status=REFUSED)
                .returning(outbox.c.id)
            ).first()
            if found is not None:
                hurry(conn, int(found.id), REFUSED, now)

    def _set(self, key: str, **values: str | None) -> None:
        with self.store.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.idempotency_key == key).values(**values))

    def status(self, ref: str, status: str) -> tuple[int, str | None] | None:
        """Record a provider's status callback; return (row id, person) of the row, if any."""
        with self.store.begin() as conn:
            found = conn.execute(
                select(outbox.c.id, outbox.c.recipient).where(outbox.c.provider_ref == ref)
            ).first()
            if found is None:
                return None
            conn.execute(
                update(outbox).where(outbox.c.id == found.id).values(provider_status=status[:32])
            )
        return int(found.id), found.recipient

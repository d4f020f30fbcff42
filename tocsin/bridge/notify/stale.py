"""Pages that no longer help: their incident was acknowledged or resolved before they left.

A page records, when queued, the incident statuses that make it stale (see outbox.stale_when).
Just before delivery the worker reads the claimed pages' incidents once; a stale page is
dropped, or with `notify.stale_pages: notice` turned into a short notice saying the incident
was already acknowledged or resolved, and counted either way, so nobody is woken for nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import Connection, select

from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.queue import Row
from tocsin.bridge.notify.wording import DEFAULT_LANGUAGE
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents

_STATUSES = select(incidents.c.id, incidents.c.status).where(in_list(incidents.c.id, "ids"))


def stale_statuses(conn: Connection, rows: Sequence[Row]) -> dict[int, str]:
    """Return, by row id, the incident status that makes a claimed page stale now."""
    pages = [row for row in rows if row.payload.get("stale_when") and row.incident_id is not None]
    if not pages:
        return {}
    ids = sorted({int(row.incident_id) for row in pages if row.incident_id is not None})
    status = {int(i): str(s) for i, s in conn.execute(_STATUSES, {"ids": ids})}
    found = {}
    for row in pages:
        now = status.get(int(row.incident_id or 0))
        if now is not None and now in row.payload["stale_when"]:
            found[row.id] = now
    return found


def stale_notice(message: Message, status: str) -> Message:
    """Return the short notice a stale page becomes: the incident's state now, no ack link."""
    word = message.t(f"incident.{status}")
    word = word.lower() if message.language == DEFAULT_LANGUAGE else word
    return dataclasses.replace(
        message,
        event=f"incident.{status}",
        status=status,
        first=False,
        ack_url=None,
        deadline=None,
        similar=(),
        detail=message.t("stale.detail", status=word),
    )

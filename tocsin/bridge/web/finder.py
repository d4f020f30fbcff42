"""The incidents view's read model: every incident, any status, filtered and paged newest first.

The board shows what needs work now; this finds anything after the fact: resolved and closed
incidents, by status, priority, team, service, host or words of their text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from tocsin.bridge.incidents.lifecycle import STATUSES
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store.schema import incidents

PAGE_SIZE = 50
MAX_PAGE = 1000
FIND_STATUSES = (*STATUSES, "paused")
_TEXT_COLUMNS = (
    incidents.c.title,
    incidents.c.description,
    incidents.c.root_cause,
    incidents.c.solution,
    incidents.c.host,
    incidents.c.service,
)


@dataclass(frozen=True)
class Finder:
    """The incidents view's filters (None: any) and page number (from 1)."""

    status: str | None = None
    priority: str | None = None
    team: str | None = None
    service: str | None = None
    host: str | None = None
    q: str | None = None
    page: int = 1

    def chosen(self) -> dict[str, str]:
        """Return the filters set, as query parameters."""
        return {
            f.name: str(v)
            for f in fields(self)
            if f.name != "page" and (v := getattr(self, f.name))
        }


@dataclass(frozen=True)
class Found:
    """One incident as the incidents view lists it."""

    id: int
    title: str
    priority: str
    status: str
    paused: bool
    service: str | None
    host: str | None
    team: str | None
    assignee: str | None
    created_at: datetime
    resolved_at: datetime | None


def _words(text: str) -> list[str]:
    return [word for word in text.split() if word][:8]


def _like(word: str) -> str:
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(finder: Finder) -> list[Any]:
    clauses: list[Any] = []
    if finder.status == "paused":
        clauses.append(incidents.c.paused.is_(True))
    elif finder.status:
        clauses.append(incidents.c.status == finder.status)
    for column, value in (
        (incidents.c.priority, finder.priority),
        (incidents.c.team, finder.team),
        (incidents.c.service, finder.service),
        (incidents.c.host, finder.host),
    ):
        if value:
            clauses.append(column == value)
    # Every word must appear in one of the texts, case-insensitively (Chinese has no case).
    for word in _words(finder.q or ""):
        pattern = _like(word)
        clauses.append(or_(*(func.lower(c).like(pattern, escape="\\") for c in _TEXT_COLUMNS)))
    return clauses


def find(conn: Connection, finder: Finder) -> tuple[list[Found], bool]:
    """Return one page of incidents newest first, and whether an older page follows."""
    page = min(max(finder.page, 1), MAX_PAGE)
    query = (
        select(incidents)
        .where(and_(True, *_where(finder)))
        .order_by(incidents.c.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = list(conn.execute(query).mappings())
    found = [
        Found(
            id=int(row["id"]),
            title=row["title"],
            priority=row["priority"],
            status=row["status"],
            paused=bool(row["paused"]),
            service=row["service"],
            host=row["host"],
            team=row["team"],
            assignee=row["assignee"],
            created_at=as_utc(row["created_at"]),
            resolved_at=as_utc(row["resolved_at"]) if row["resolved_at"] else None,
        )
        for row in rows[:PAGE_SIZE]
    ]
    return found, len(rows) > PAGE_SIZE


def choices(conn: Connection, column: str) -> list[str]:
    """Return the distinct values of a column (team, service, host) for a filter's picker."""
    target = incidents.c[column]
    query = select(target).where(target.is_not(None)).distinct().order_by(target).limit(500)
    return [str(value) for value in conn.execute(query).scalars()]


def clean(params: Mapping[str, str], name: str, limit: int = 200) -> str | None:
    """Return a query parameter trimmed and bounded, without NUL (PostgreSQL refuses it)."""
    return (params.get(name) or "").replace("\x00", "").strip()[:limit] or None


def finder_from(params: Mapping[str, str], priorities: Sequence[str]) -> Finder:
    """Return the filters of a query string, dropping values that are not offered."""
    status = params.get("status") or None
    priority = params.get("priority") or None
    page = params.get("page", "1")
    return Finder(
        status=status if status in FIND_STATUSES else None,
        priority=priority if priority in priorities else None,
        team=clean(params, "team", 100),
        service=clean(params, "service"),
        host=clean(params, "host"),
        q=clean(params, "q"),
        page=int(page) if page.isdigit() and len(page) < 6 else 1,
    )

"""Seeded histories kept between runs of the history bench while one iterates on the bridge.

With TOCSIN_BENCH_HISTORY_CACHE=DIR a history seeded once (1,000,000 incidents take minutes) is
kept: SQLite's file in DIR, PostgreSQL's as a template database on the server named by
TOCSIN_TEST_POSTGRES_URL (a throwaway cluster dies with the run); DIR/<db>-<size>.json keeps the
end of the history and how long seeding took. Each run measures a fresh copy, since intake adds
incidents. Without the variable every run seeds anew.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tests.pg import ENV_URL

CACHE = os.environ.get("TOCSIN_BENCH_HISTORY_CACHE", "")
Seed = Callable[[str, datetime], str]  # seed a migrated, empty database; say how it went


def _meta(name: str, size: int) -> Path:
    return Path(CACHE) / f"{name.lower()}-{size}.json"


def _remember(name: str, size: int, end: datetime, note: str) -> None:
    _meta(name, size).write_text(json.dumps({"end": end.isoformat(), "note": note}))


def _recalled(name: str, size: int) -> tuple[datetime, str] | None:
    path = _meta(name, size)
    if not path.exists():
        return None
    found = json.loads(path.read_text())
    return datetime.fromisoformat(found["end"]), f"from the cache ({found['note']})"


def sqlite_history(path: Path, size: int, end: datetime, seed: Seed) -> tuple[datetime, str]:
    """Seed the SQLite file at path, or copy the cached one; return the history's end and a note."""
    url = f"sqlite:///{path}"
    if not CACHE:
        return end, seed(url, end)
    kept = Path(CACHE) / f"sqlite-{size}.db"
    recalled = _recalled("sqlite", size)
    if recalled is not None and kept.exists():
        shutil.copyfile(kept, path)
        return recalled
    note = seed(url, end)
    shutil.copyfile(path, kept)
    _remember("sqlite", size, end, note)
    return end, note


def postgresql_history(
    server: str, create: Callable[[str], str], size: int, end: datetime, seed: Seed
) -> tuple[str, datetime, str]:
    """Seed a new database on the server, or copy the cached one; return its URL, end and note."""
    if not CACHE or not os.environ.get(ENV_URL):
        url = create(server)
        return url, end, seed(url, end)
    import psycopg

    template = f"history_{size}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        known = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
        recalled = _recalled("postgresql", size)
        if known is None or recalled is None:
            if known is not None:
                conn.execute(f'DROP DATABASE "{template}"')
            conn.execute(f'CREATE DATABASE "{template}"')
            note = seed(f"{server}/{template}", end)
            _remember("postgresql", size, end, note)
            recalled = end, note
        copy = create(server).rsplit("/", 1)[1]
        conn.execute(f'DROP DATABASE "{copy}"')
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
    return f"{server}/{copy}", *recalled

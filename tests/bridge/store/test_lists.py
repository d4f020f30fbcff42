from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, insert, select

from tocsin.bridge import migrations
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BY_ID = select(incidents.c.key).where(in_list(incidents.c.id, "ids")).order_by(incidents.c.key)
BY_KEY = select(incidents.c.id).where(in_list(incidents.c.key, "keys")).order_by(incidents.c.id)


def test_lists_of_any_length_select_their_rows(database_url: str) -> None:
    store = Store(database_url)
    migrations.upgrade(store)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with store.begin() as conn:
        ids = [
            conn.execute(
                insert(incidents).returning(incidents.c.id),
                {"key": f"k{n}", "title": "t", "priority": "P1", "status": "triggered",
                 "source": "manual", "created_at": NOW, "updated_at": NOW},
            ).scalar_one()
            for n in range(6)
        ]  # fmt: skip
        statements.clear()
        assert conn.execute(BY_ID, {"ids": ids[:2]}).scalars().all() == ["k0", "k1"]
        assert conn.execute(BY_ID, {"ids": ids[3:]}).scalars().all() == ["k3", "k4", "k5"]
        assert conn.execute(BY_ID, {"ids": []}).scalars().all() == []
        assert conn.execute(BY_KEY, {"keys": ["k4", "k1", "nope"]}).scalars().all() == [
            ids[1],
            ids[4],
        ]
    # One text whatever the list's length: it is prepared once (psycopg and the server, SQLite).
    assert len(set(statements[:3])) == 1
    store.dispose()

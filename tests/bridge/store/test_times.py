from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects.sqlite import DATETIME

from bridge.clock import as_utc
from bridge.store.schema import UtcTime

TIMES = [
    datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    datetime(2026, 3, 2, 9, 0, 0, 7, tzinfo=UTC),
    datetime(2026, 11, 23, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 3, 2, 9, 0, 1, 500000),  # naive: taken as UTC
    datetime(9000, 1, 1, tzinfo=UTC),
]


def _stored(column_type: object, value: datetime) -> tuple[str, datetime]:
    engine = create_engine("sqlite://")
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", column_type)
    )
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"at": value}])
        raw = conn.exec_driver_sql("SELECT at FROM t").scalar_one()
        read = conn.execute(select(table.c.at)).scalar_one()
    return raw, read


@pytest.mark.parametrize("value", TIMES)
def test_sqlite_times_are_stored_as_sqlalchemy_stores_their_utc_wall_time(value: datetime) -> None:
    raw, read = _stored(UtcTime, value)
    expected, _ = _stored(DATETIME(), as_utc(value).replace(tzinfo=None))
    assert raw == expected
    assert as_utc(read) == as_utc(value)


def test_a_time_column_refuses_what_is_not_a_datetime() -> None:
    with pytest.raises(Exception, match="takes a datetime, not str"):
        _stored(UtcTime, "2026-03-02")  # type: ignore[arg-type]


def test_postgresql_keeps_sqlalchemys_own_type() -> None:
    from sqlalchemy.dialects import postgresql

    used = UtcTime.dialect_impl(postgresql.dialect())
    assert isinstance(used, DateTime) and not isinstance(used, DATETIME)

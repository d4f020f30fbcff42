"""Alembic environment: migrate the connection the caller passed in `config.attributes`."""

from __future__ import annotations

from alembic import context

from tocsin.bridge.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `tocsin-bridge migrate`, which passes a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

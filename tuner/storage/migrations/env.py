"""Alembic environment: runs on the connection that ``tuner.storage.engine`` hands it."""

from __future__ import annotations

from alembic import context

from tuner.storage.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise SystemExit("run migrations through tuner.storage (tuner upgrade-db), not alembic")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

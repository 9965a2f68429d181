"""Alembic environment: PayDesk always runs migrations through app.core.storage.migrate,
which hands over an open connection."""

from __future__ import annotations

from alembic import context

from app.core.storage.migrate import include_name
from app.core.storage.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()

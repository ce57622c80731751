"""Alembic environment: runs on the connection handed over by ``bot.db.migrate``."""

from __future__ import annotations

from alembic import context

import bot.models  # noqa: F401  (registers every table on Base.metadata)
from bot.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for the alembic CLI
    from sqlalchemy import create_engine

    from bot.settings import get_settings

    connection = create_engine(get_settings().sqlalchemy_url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

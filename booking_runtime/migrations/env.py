"""Alembic's environment: migrate on the connection booking_runtime.migrations.upgrade hands over.

There is no alembic.ini and no URL here: the service opened the database (and, on PostgreSQL, took
its advisory lock) before migrating.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
if connection is None:
    raise RuntimeError("run migrations through booking_runtime.migrations.upgrade, not the alembic CLI")
context.configure(
    connection=connection,
    version_table_schema=context.config.attributes["schema"],
    # SQLite cannot ALTER most things: later revisions' op.batch_alter_table copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

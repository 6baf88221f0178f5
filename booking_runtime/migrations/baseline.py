"""The tables of the first release, frozen here: every service's baseline revision creates them.

This is a copy of booking_runtime.tables as it was when migrations began, on purpose: tables.py
moves on with the code, a revision must not. tests/booking_services/test_migrations.py checks that the
newest revision of each service still yields exactly what tables.py describes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def schema() -> str | None:
    """The schema being migrated: the service's on PostgreSQL, None on SQLite (one file per service)."""
    return op.get_context().version_table_schema


def create_tables() -> None:
    op.create_table(
        "bookings",
        sa.Column("idempotency_key", sa.String(200), primary_key=True),
        sa.Column("booking_id", sa.String(40), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("units", sa.JSON, nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        schema=schema(),
    )
    op.create_table(
        "inventory",
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("slot", sa.String(32), primary_key=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("taken", sa.Integer, nullable=False),
        sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="inventory_taken_in_range"),
        schema=schema(),
    )
    op.create_table(
        "catalog",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        schema=schema(),
    )


def drop_tables() -> None:
    for table in ("catalog", "inventory", "bookings"):
        op.drop_table(table, schema=schema())

"""The three tables every booking service has; the schema (PostgreSQL) or file (SQLite) is per service."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per idempotency key: a live booking, a cancelled one, or a tombstone left by a cancel
# that came first. `fingerprint` is a hash of the request without its key.
bookings = sa.Table(
    "bookings",
    metadata,
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
)

# Units taken per resource and slot (flight+date, hotel+night, city+hour). Rows appear lazily,
# with the catalog capacity, the first time a slot is booked.
inventory = sa.Table(
    "inventory",
    metadata,
    sa.Column("resource", sa.String(64), primary_key=True),
    sa.Column("slot", sa.String(32), primary_key=True),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("taken", sa.Integer, nullable=False),
    sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="inventory_taken_in_range"),
)

# The service's catalog (flights, hotels, fleets), seeded from its catalog.json on first start.
catalog = sa.Table(
    "catalog",
    metadata,
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
)

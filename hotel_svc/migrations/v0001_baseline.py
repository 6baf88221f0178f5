"""hotel schema baseline: bookings, inventory and catalog as the first release made them.

Revision ID: hotel_0001
Revises:
"""

from __future__ import annotations

from booking_runtime.migrations.baseline import create_tables, drop_tables

revision = "hotel_0001"
down_revision: str | None = None
branch_labels = ("hotel",)
depends_on = None


def upgrade() -> None:
    create_tables()


def downgrade() -> None:
    drop_tables()

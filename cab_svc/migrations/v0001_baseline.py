"""cab schema baseline: bookings, inventory and catalog as the first release made them.

Revision ID: cab_0001
Revises:
"""

from __future__ import annotations

from booking_runtime.migrations.baseline import create_tables, drop_tables

revision = "cab_0001"
down_revision: str | None = None
branch_labels = ("cab",)
depends_on = None


def upgrade() -> None:
    create_tables()


def downgrade() -> None:
    drop_tables()

"""Alembic revisions of the cab service's schema (run at start-up by booking_runtime.migrations)."""

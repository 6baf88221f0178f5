"""Alembic revisions of the hotel service's schema (run at start-up by booking_runtime.migrations)."""

"""Alembic revisions of the flight service's schema (run at start-up by booking_runtime.migrations)."""

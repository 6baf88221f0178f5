"""The ledger's PostgreSQL fast path: claim the key and take every unit in one statement.

The claim and the inventory upsert are data-modifying CTEs of one autocommit statement, so a
booking is one round trip; units are only taken when the key was claimed, and a unit that would
go over capacity violates the inventory CHECK constraint, which aborts the whole statement:
nothing is claimed or taken. Row locks are taken in (resource, slot) order, so replicas cannot
deadlock on a multi-night stay. The statement runs on the pooled connection's asyncpg driver
directly: SQLAlchemy's execution layer costs more CPU than the statement itself.
SQLite takes the other path: `Ledger._book_tx` inside the group-commit writer (storage_sqlite.py).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import sqlalchemy as sa

from booking_runtime.errors import Aborted, Unavailable
from booking_runtime.ledger_records import BOOKING_COLUMNS, BookingRecord, Unit, record_from_values
from booking_runtime.storage import Database


class InventoryShort(Exception):
    """A unit did not fit (the CHECK constraint fired): nothing was claimed or taken."""


class PostgresBooking:
    """Books with one statement per call; the statement for n units is built once and cached."""

    def __init__(self, db: Database, select_by_key: sa.Select[Any]) -> None:
        self._db = db
        self._select = select_by_key
        self._statements: dict[int, str] = {}

    async def book(self, values: dict[str, Any], units: list[Unit]) -> tuple[bool, BookingRecord]:
        """(True, the new booking) if this call claimed the key, else (False, the booking already there).

        Raises InventoryShort when a unit does not fit, ABORTED on a deadlock, UNAVAILABLE when the
        database cannot be reached.
        """
        key = values["idempotency_key"]
        args: list[Any] = [
            json.dumps(values[c]) if c in ("details", "units") else values[c] for c in BOOKING_COLUMNS
        ]
        for unit in units:
            args += [unit.resource, unit.slot, unit.capacity, unit.quantity]
        try:
            async with self._db.autocommit() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                row = await driver.fetchrow(self._sql(len(units)), *args)
                if row["claimed"]:
                    return True, record_from_values(values)
                existing = (await conn.execute(self._select, {"b_key": key})).first()
        except asyncpg.CheckViolationError:
            raise InventoryShort from None
        except asyncpg.DeadlockDetectedError as exc:
            raise Aborted(f"storage contention: {exc}", reason="STORAGE_CONTENTION") from exc
        except (asyncpg.PostgresError, OSError) as exc:
            raise Unavailable(f"storage unavailable: {exc}", reason="STORAGE_UNAVAILABLE") from exc
        if existing is None:  # a claim conflict means the row exists; nothing deletes rows on PostgreSQL
            raise Aborted(f"idempotency_key {key!r} changed while booking; retry")
        return False, record_from_values(existing._mapping)

    def _sql(self, unit_count: int) -> str:
        """The claim-and-take statement for `unit_count` units ($1.. placeholders), built once."""
        cached = self._statements.get(unit_count)
        if cached is not None:
            return cached
        schema = '"' + self._db.schema.replace('"', '""') + '"'
        width = len(BOOKING_COLUMNS)
        claim_values = ", ".join(
            f"${n + 1}::json" if c in ("details", "units") else f"${n + 1}"
            for n, c in enumerate(BOOKING_COLUMNS)
        )
        rows = ", ".join(
            f"(${width + 4 * n + 1}::text, ${width + 4 * n + 2}::text, ${width + 4 * n + 3}::int, "
            f"${width + 4 * n + 4}::int)"
            for n in range(unit_count)
        )
        sql = f"""
            WITH claim AS (
                INSERT INTO {schema}.bookings ({", ".join(BOOKING_COLUMNS)}) VALUES ({claim_values})
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING idempotency_key
            ), take AS (
                INSERT INTO {schema}.inventory (resource, slot, capacity, taken)
                SELECT w.resource, w.slot, w.capacity, w.taken
                FROM (VALUES {rows}) AS w (resource, slot, capacity, taken)
                WHERE EXISTS (SELECT 1 FROM claim)
                ORDER BY w.resource, w.slot
                ON CONFLICT (resource, slot) DO UPDATE SET taken = inventory.taken + excluded.taken
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM claim) AS claimed, (SELECT count(*) FROM take) AS taken
        """
        self._statements[unit_count] = sql
        return sql

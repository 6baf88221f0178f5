"""The idempotent booking ledger: one transaction per call, inventory that never oversells.

Services describe a booking as plain data (details, units of inventory, price); the ledger
enforces the rules of DESIGN.md for all three of them:
same key + same request -> the first result; same key + other request -> ALREADY_EXISTS;
cancelled or tombstoned key -> ALREADY_CANCELLED; short of inventory -> SOLD_OUT with nothing taken.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from booking_runtime.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    Unavailable,
)
from booking_runtime.ledger_postgres import InventoryShort, PostgresBooking
from booking_runtime.ledger_records import (
    BOOKED,
    CANCELLED,
    BookingRecord,
    BookingRequest,
    Unit,
    merge_units,
    record_from_values,
    utc_now,
)
from booking_runtime.storage import Database
from booking_runtime.tables import bookings, inventory

__all__ = ["BOOKED", "CANCELLED", "BookingRecord", "BookingRequest", "Ledger", "Unit"]


class Ledger:
    """Book, cancel and read bookings of one service, and read what is taken for searches.

    Statements are built once: building a Core statement costs more than running it on SQLite.
    The write paths are plain functions of a connection, run by `Database.write` as one
    transaction each. A booking takes one of two paths: on PostgreSQL one statement
    (`PostgresBooking`, ledger_postgres.py), on SQLite `_book_tx` in the group-commit writer.
    """

    def __init__(self, db: Database, id_prefix: str, unit_name: str = "units") -> None:
        self._db = db
        self._prefix = id_prefix
        self._unit_name = unit_name
        cols = list(bookings.c)
        inv = inventory.c
        self._claim = (
            db.insert(bookings)
            .on_conflict_do_nothing(index_elements=[bookings.c.idempotency_key])
            .returning(bookings.c.booking_id)
        )
        upsert = db.insert(inventory)
        self._take_one = upsert.on_conflict_do_update(
            index_elements=[inv.resource, inv.slot],
            set_={"taken": inv.taken + upsert.excluded.taken},
            where=(inv.taken + upsert.excluded.taken) <= inv.capacity,
        ).returning(inv.taken)
        self._select = sa.select(*cols).where(bookings.c.idempotency_key == sa.bindparam("b_key"))
        self._level = sa.select(inv.capacity, inv.taken).where(
            inv.resource == sa.bindparam("b_resource"), inv.slot == sa.bindparam("b_slot")
        )
        self._cancel = (
            sa.update(bookings)
            .where(bookings.c.idempotency_key == sa.bindparam("b_key"), bookings.c.status == BOOKED)
            .values(status=CANCELLED, updated_at=sa.bindparam("b_now"))
            .returning(*cols)
        )
        self._taken = sa.select(inv.resource, inv.slot, inv.taken).where(
            inv.resource.in_(sa.bindparam("b_resources", expanding=True)),
            inv.slot.in_(sa.bindparam("b_slots", expanding=True)),
        )
        self._give_back = (
            sa.update(inventory)
            .where(inv.resource == sa.bindparam("b_resource"), inv.slot == sa.bindparam("b_slot"))
            .values(taken=inv.taken - sa.bindparam("b_quantity"))
        )
        self._postgres = PostgresBooking(db, self._select) if db.postgres else None

    def _new_id(self) -> str:
        return f"{self._prefix}-{secrets.token_hex(6).upper()}"

    def _read(self, conn: sa.Connection, key: str) -> BookingRecord | None:
        row = conn.execute(self._select, {"b_key": key}).first()
        return record_from_values(row._mapping) if row is not None else None

    async def book(self, request: BookingRequest) -> BookingRecord:
        """Take the units and record the booking, or return the first result for a retried key."""
        now = utc_now()
        units = merge_units(request.units)
        values = {
            "idempotency_key": request.idempotency_key,
            "booking_id": self._new_id(),
            "status": BOOKED,
            "fingerprint": request.fingerprint,
            "customer_id": request.customer_id,
            "details": dict(request.details),
            "units": [[u.resource, u.slot, u.quantity] for u in units],
            "price_cents": request.price_cents,
            "currency": request.currency,
            "created_at": now,
            "updated_at": now,
        }
        try:
            if self._postgres is not None:
                return await self._book_pg(values, units)
            return await self._db.write(self._book_tx, values, units, batchable=True)
        except DBAPIError as exc:
            raise _storage_error(exc) from exc

    async def _book_pg(self, values: dict[str, Any], units: list[Unit]) -> BookingRecord:
        """PostgreSQL: claim and take in one statement (booking_runtime/ledger_postgres.py)."""
        assert self._postgres is not None
        try:
            claimed, record = await self._postgres.book(values, units)
        except InventoryShort:
            raise await self._first_short(units) from None
        if claimed:
            return record
        return self._replay(record, values["fingerprint"], values["idempotency_key"])

    async def _first_short(self, units: list[Unit]) -> FailedPrecondition | Aborted:
        async with self._db.read() as conn:
            return await conn.run_sync(self._first_short_tx, units)

    def _first_short_tx(self, conn: sa.Connection, units: list[Unit]) -> FailedPrecondition | Aborted:
        """The SOLD_OUT error for the first unit that does not fit now (ABORTED if all fit again)."""
        for unit in units:
            row = conn.execute(self._level, {"b_resource": unit.resource, "b_slot": unit.slot}).first()
            available = unit.capacity if row is None else int(row.capacity) - int(row.taken)
            if unit.quantity > available:
                return self._sold_out(conn, unit)
        return Aborted("inventory changed while booking; retry", reason="INVENTORY_CHANGED")

    def _book_tx(self, conn: sa.Connection, values: dict[str, Any], units: list[Unit]) -> BookingRecord:
        """Claim the key, then take every unit in (resource, slot) order; all or nothing.

        Runs in its own savepoint inside SQLite's group commit: raising SOLD_OUT undoes the claim and
        every unit taken so far, while the other bookings of the batch still commit.
        """
        key = values["idempotency_key"]
        # Claiming first makes a concurrent call with the same key wait here, then re-read.
        if conn.execute(self._claim, values).first() is None:
            existing = self._read(conn, key)
            assert existing is not None
            return self._replay(existing, values["fingerprint"], key)
        for unit in units:
            fits = unit.quantity <= unit.capacity
            if fits:
                params = {"resource": unit.resource, "slot": unit.slot, "capacity": unit.capacity}
                fits = conn.execute(self._take_one, {**params, "taken": unit.quantity}).first() is not None
            if not fits:
                # Raising rolls the claim and every unit taken so far back (transaction or savepoint).
                raise self._sold_out(conn, unit)
        return record_from_values(values)

    def _sold_out(self, conn: sa.Connection, unit: Unit) -> FailedPrecondition:
        row = conn.execute(self._level, {"b_resource": unit.resource, "b_slot": unit.slot}).first()
        available = unit.capacity if row is None else max(0, int(row.capacity) - int(row.taken))
        return FailedPrecondition(
            "SOLD_OUT",
            f"only {available} {self._unit_name} left on {unit.resource} for {unit.slot}, "
            f"{unit.quantity} requested",
            metadata={
                "resource": unit.resource,
                "slot": unit.slot,
                "requested": str(unit.quantity),
                "available": str(available),
            },
        )

    def _replay(self, existing: BookingRecord, fingerprint: str, key: str) -> BookingRecord:
        if existing.status == CANCELLED:
            raise FailedPrecondition(
                "ALREADY_CANCELLED",
                f"idempotency_key {key!r} was cancelled; book with a new key",
                field="idempotency_key",
            )
        if existing.fingerprint != fingerprint:
            raise AlreadyExists(
                f"idempotency_key {key!r} was already used for a different request",
                field="idempotency_key",
                metadata={"booking_id": existing.booking_id},
            )
        return existing

    async def cancel(self, key: str) -> BookingRecord:
        """Cancel and give the units back; an unknown key leaves a tombstone. Idempotent."""
        try:
            for _ in range(5):
                record = await self._db.write(self._cancel_tx, key, batchable=True)
                if record is not None:
                    return record
                # A booking with this key committed while we looked (PostgreSQL): cancel it now.
        except DBAPIError as exc:
            raise _storage_error(exc) from exc
        raise Aborted(f"idempotency_key {key!r} kept changing while being cancelled; retry")

    def _cancel_tx(self, conn: sa.Connection, key: str) -> BookingRecord | None:
        now = utc_now()
        cancelled = conn.execute(self._cancel, {"b_key": key, "b_now": now}).first()
        if cancelled is not None:
            record = record_from_values(cancelled._mapping)
            for resource, slot, quantity in sorted(record.units):
                conn.execute(
                    self._give_back, {"b_resource": resource, "b_slot": slot, "b_quantity": quantity}
                )
            return record
        tombstone = {
            "idempotency_key": key,
            "booking_id": self._new_id(),
            "status": CANCELLED,
            "fingerprint": "",
            "customer_id": "",
            "details": {},
            "units": [],
            "price_cents": 0,
            "currency": "",
            "created_at": now,
            "updated_at": now,
        }
        if conn.execute(self._claim, tombstone).first() is not None:
            return record_from_values(tombstone)
        existing = self._read(conn, key)
        return existing if existing is not None and existing.status == CANCELLED else None

    async def get(self, key: str) -> BookingRecord:
        """The booking made (or cancelled) with `key`; NOT_FOUND if there is none."""
        try:
            async with self._db.read() as conn:
                row = (await conn.execute(self._select, {"b_key": key})).first()
        except DBAPIError as exc:
            raise _storage_error(exc) from exc
        if row is None:
            raise NotFound(f"no booking with idempotency_key {key!r}", field="idempotency_key")
        return record_from_values(row._mapping)

    async def taken(self, resources: Sequence[str], slots: Sequence[str]) -> dict[tuple[str, str], int]:
        """Units taken per (resource, slot) for these resources and slots (missing: none taken)."""
        if not resources or not slots:
            return {}
        params = {"b_resources": sorted(set(resources)), "b_slots": sorted(set(slots))}
        try:
            async with self._db.read() as conn:
                rows = (await conn.execute(self._taken, params)).all()
        except DBAPIError as exc:
            raise _storage_error(exc) from exc
        return {(r, s): int(t) for r, s, t in rows}


def _storage_error(exc: DBAPIError) -> Unavailable | Aborted:
    """Database trouble is retryable: contention is ABORTED, anything else UNAVAILABLE."""
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if any(word in text for word in ("deadlock", "serialize", "locked", "busy", "lock timeout")):
        return Aborted(f"storage contention: {text[:200]}", reason="STORAGE_CONTENTION")
    return Unavailable(f"storage unavailable: {text[:200]}", reason="STORAGE_UNAVAILABLE")

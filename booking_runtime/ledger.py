"""The idempotent booking ledger: one transaction per call, inventory that never oversells.

Services describe a booking as plain data (details, units of inventory, price); the ledger
enforces the rules of DESIGN.md for all three of them:
same key + same request -> the first result; same key + other request -> ALREADY_EXISTS;
cancelled or tombstoned key -> ALREADY_CANCELLED; short of inventory -> SOLD_OUT with nothing taken.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from booking_runtime.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    Unavailable,
)
from booking_runtime.storage import Database
from booking_runtime.tables import bookings, inventory

BOOKED = "BOOKED"
CANCELLED = "CANCELLED"


@dataclass(frozen=True, order=True)
class Unit:
    """`quantity` units of `resource` in `slot` (e.g. 2 seats on TB101 on 2026-12-01)."""

    resource: str
    slot: str
    quantity: int
    capacity: int = field(compare=False)


@dataclass(frozen=True)
class BookingRequest:
    """What a service asks the ledger to book; `details` are the domain fields echoed back."""

    idempotency_key: str
    customer_id: str
    details: Mapping[str, Any]
    units: Sequence[Unit]
    price_cents: int
    currency: str

    @property
    def fingerprint(self) -> str:
        """Hash of the request without its key: tells a retry from a different request."""
        body = {"customer_id": self.customer_id, "details": dict(self.details)}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class BookingRecord:
    """A row of the ledger as services read it."""

    idempotency_key: str
    booking_id: str
    status: str
    customer_id: str
    details: Mapping[str, Any]
    units: tuple[tuple[str, str, int], ...]
    price_cents: int
    currency: str
    created_at: str
    updated_at: str
    fingerprint: str = ""

    @property
    def quantity(self) -> int:
        """Units held per slot (seats, rooms, cabs): the same for every slot of a booking."""
        return max((q for _, _, q in self.units), default=0)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(row: sa.Row[Any]) -> BookingRecord:
    m = row._mapping
    return BookingRecord(
        idempotency_key=m["idempotency_key"],
        booking_id=m["booking_id"],
        status=m["status"],
        customer_id=m["customer_id"],
        details=m["details"],
        units=tuple((r, s, int(q)) for r, s, q in m["units"]),
        price_cents=int(m["price_cents"]),
        currency=m["currency"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        fingerprint=m["fingerprint"],
    )


def _merge(units: Iterable[Unit]) -> list[Unit]:
    """One unit per (resource, slot), sorted: a fixed lock order means no deadlocks between bookings."""
    merged: dict[tuple[str, str], Unit] = {}
    for unit in units:
        key = (unit.resource, unit.slot)
        if key in merged:
            prev = merged[key]
            unit = Unit(unit.resource, unit.slot, prev.quantity + unit.quantity, unit.capacity)
        merged[key] = unit
    return sorted(merged.values())


class Ledger:
    """Book, cancel and read bookings of one service, and read what is taken for searches."""

    def __init__(self, db: Database, id_prefix: str, unit_name: str = "units") -> None:
        self._db = db
        self._prefix = id_prefix
        self._unit_name = unit_name
        self._booking_cols = list(bookings.c)

    def _new_id(self) -> str:
        return f"{self._prefix}-{secrets.token_hex(6).upper()}"

    async def _select(self, conn: AsyncConnection, key: str) -> BookingRecord | None:
        query = sa.select(*self._booking_cols).where(bookings.c.idempotency_key == key)
        row = (await conn.execute(query)).first()
        return _record(row) if row is not None else None

    async def book(self, request: BookingRequest) -> BookingRecord:
        """Take the units and record the booking, or return the first result for a retried key."""
        try:
            return await self._book(request)
        except DBAPIError as exc:
            raise _storage_error(exc) from exc

    async def _book(self, request: BookingRequest) -> BookingRecord:
        now = utc_now()
        units = _merge(request.units)
        fingerprint = request.fingerprint
        values = {
            "idempotency_key": request.idempotency_key,
            "booking_id": self._new_id(),
            "status": BOOKED,
            "fingerprint": fingerprint,
            "customer_id": request.customer_id,
            "details": dict(request.details),
            "units": [[u.resource, u.slot, u.quantity] for u in units],
            "price_cents": request.price_cents,
            "currency": request.currency,
            "created_at": now,
            "updated_at": now,
        }
        async with self._db.write() as conn:
            # Claim the key first: a concurrent call with the same key waits here, then re-reads.
            claim = (
                self._db.insert(bookings)
                .values(values)
                .on_conflict_do_nothing(index_elements=[bookings.c.idempotency_key])
                .returning(bookings.c.booking_id)
            )
            if (await conn.execute(claim)).first() is None:
                existing = await self._select(conn, request.idempotency_key)
                assert existing is not None
                return self._replay(existing, fingerprint, request.idempotency_key)
            short = next((u for u in units if u.quantity > u.capacity), None)
            if short is None and units:
                short = await self._take(conn, units)
            if short is not None:
                available = await self._available(conn, short)
                # Raising rolls the whole transaction back: the key is not claimed, nothing is taken.
                raise FailedPrecondition(
                    "SOLD_OUT",
                    f"only {available} {self._unit_name} left on {short.resource} for {short.slot}, "
                    f"{short.quantity} requested",
                    metadata={
                        "resource": short.resource,
                        "slot": short.slot,
                        "requested": str(short.quantity),
                        "available": str(available),
                    },
                )
        return _record_from_values(values)

    async def _take(self, conn: AsyncConnection, units: Sequence[Unit]) -> Unit | None:
        """Add every unit in one upsert; return a unit that did not fit (then nothing may be kept)."""
        rows = [dict(resource=u.resource, slot=u.slot, capacity=u.capacity, taken=u.quantity) for u in units]
        stmt = self._db.insert(inventory).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[inventory.c.resource, inventory.c.slot],
            set_={"taken": inventory.c.taken + stmt.excluded.taken},
            where=(inventory.c.taken + stmt.excluded.taken) <= inventory.c.capacity,
        ).returning(inventory.c.resource, inventory.c.slot)
        done = {(r, s) for r, s in (await conn.execute(stmt)).all()}
        return next((u for u in units if (u.resource, u.slot) not in done), None)

    async def _available(self, conn: AsyncConnection, unit: Unit) -> int:
        row = (
            await conn.execute(
                sa.select(inventory.c.capacity, inventory.c.taken).where(
                    inventory.c.resource == unit.resource, inventory.c.slot == unit.slot
                )
            )
        ).first()
        return unit.capacity if row is None else max(0, int(row.capacity) - int(row.taken))

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
            return await self._cancel(key)
        except DBAPIError as exc:
            raise _storage_error(exc) from exc

    async def _cancel(self, key: str) -> BookingRecord:
        for _ in range(5):
            now = utc_now()
            async with self._db.write() as conn:
                cancelled = (
                    await conn.execute(
                        sa.update(bookings)
                        .where(bookings.c.idempotency_key == key, bookings.c.status == BOOKED)
                        .values(status=CANCELLED, updated_at=now)
                        .returning(*self._booking_cols)
                    )
                ).first()
                if cancelled is not None:
                    record = _record(cancelled)
                    for resource, slot, quantity in sorted(record.units):
                        await conn.execute(
                            sa.update(inventory)
                            .where(inventory.c.resource == resource, inventory.c.slot == slot)
                            .values(taken=inventory.c.taken - quantity)
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
                inserted = (
                    await conn.execute(
                        self._db.insert(bookings)
                        .values(tombstone)
                        .on_conflict_do_nothing(index_elements=[bookings.c.idempotency_key])
                        .returning(bookings.c.booking_id)
                    )
                ).first()
                if inserted is not None:
                    return _record_from_values(tombstone)
                existing = await self._select(conn, key)
            if existing is not None and existing.status == CANCELLED:
                return existing
            # A booking with this key committed while we looked (PostgreSQL): cancel it now.
        raise Aborted(f"idempotency_key {key!r} kept changing while being cancelled; retry")

    async def get(self, key: str) -> BookingRecord:
        """The booking made (or cancelled) with `key`; NOT_FOUND if there is none."""
        try:
            async with self._db.read() as conn:
                record = await self._select(conn, key)
        except DBAPIError as exc:
            raise _storage_error(exc) from exc
        if record is None:
            raise NotFound(f"no booking with idempotency_key {key!r}", field="idempotency_key")
        return record

    async def taken(self, resources: Sequence[str], slots: Sequence[str]) -> dict[tuple[str, str], int]:
        """Units taken per (resource, slot) for these resources and slots (missing: none taken)."""
        if not resources or not slots:
            return {}
        query = sa.select(inventory.c.resource, inventory.c.slot, inventory.c.taken).where(
            inventory.c.resource.in_(sorted(set(resources))), inventory.c.slot.in_(sorted(set(slots)))
        )
        try:
            async with self._db.read() as conn:
                rows = (await conn.execute(query)).all()
        except DBAPIError as exc:
            raise _storage_error(exc) from exc
        return {(r, s): int(t) for r, s, t in rows}


def _record_from_values(values: Mapping[str, Any]) -> BookingRecord:
    return BookingRecord(
        idempotency_key=values["idempotency_key"],
        booking_id=values["booking_id"],
        status=values["status"],
        customer_id=values["customer_id"],
        details=values["details"],
        units=tuple((r, s, int(q)) for r, s, q in values["units"]),
        price_cents=int(values["price_cents"]),
        currency=values["currency"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        fingerprint=values["fingerprint"],
    )


def _storage_error(exc: DBAPIError) -> Unavailable | Aborted:
    """Database trouble is retryable: contention is ABORTED, anything else UNAVAILABLE."""
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if any(word in text for word in ("deadlock", "serialize", "locked", "busy", "lock timeout")):
        return Aborted(f"storage contention: {text[:200]}", reason="STORAGE_CONTENTION")
    return Unavailable(f"storage unavailable: {text[:200]}", reason="STORAGE_UNAVAILABLE")

"""The ledger's records: what a service asks to book, what it reads back, and the row they map to.

Plain data shared by the ledger (booking_runtime/ledger.py) and its PostgreSQL fast path
(booking_runtime/ledger_postgres.py); services build `BookingRequest`s and read `BookingRecord`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from booking_runtime.tables import bookings

BOOKING_COLUMNS = [c.name for c in bookings.c]

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
    fingerprint: str


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def merge_units(units: Iterable[Unit]) -> list[Unit]:
    """One unit per (resource, slot), sorted: a fixed lock order means no deadlocks between bookings."""
    merged: dict[tuple[str, str], Unit] = {}
    for unit in units:
        key = (unit.resource, unit.slot)
        if key in merged:
            prev = merged[key]
            unit = Unit(unit.resource, unit.slot, prev.quantity + unit.quantity, unit.capacity)
        merged[key] = unit
    return sorted(merged.values())


def record_from_values(values: Mapping[str, Any] | sa.RowMapping) -> BookingRecord:
    """A record from the values inserted, or from a row read back (`row._mapping`)."""
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

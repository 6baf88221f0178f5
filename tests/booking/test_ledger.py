"""Unit tests of the idempotent ledger on a real SQLite file (PostgreSQL is covered end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from booking_runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from booking_runtime.ledger import BOOKED, CANCELLED, BookingRequest, Ledger, Unit
from booking_runtime.storage import Database
from booking_runtime.tables import metadata


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    db = Database(str(tmp_path / "ledger.db"), schema="test")
    await db.create_schema(metadata)
    yield Ledger(db, "T", "seats")
    await db.close()


def request(
    key: str, quantity: int = 1, capacity: int = 5, slots: tuple[str, ...] = ("d1",)
) -> BookingRequest:
    return BookingRequest(
        idempotency_key=key,
        customer_id="c",
        details={"what": "x", "quantity": quantity, "slots": list(slots)},
        units=tuple(Unit("res", slot, quantity, capacity) for slot in slots),
        price_cents=100 * quantity,
        currency="EUR",
    )


async def taken(ledger: Ledger, *slots: str) -> list[int]:
    found = await ledger.taken(["res"], list(slots))
    return [found.get(("res", slot), 0) for slot in slots]


async def test_book_is_idempotent_per_key_and_fingerprint(ledger: Ledger) -> None:
    first = await ledger.book(request("a", 2))
    assert first.status == BOOKED and first.booking_id.startswith("T-")
    assert await ledger.book(request("a", 2)) == first
    with pytest.raises(AlreadyExists):
        await ledger.book(request("a", 3))
    assert await taken(ledger, "d1") == [2]
    assert await ledger.get("a") == first


async def test_sold_out_takes_nothing_even_on_the_nights_that_fit(ledger: Ledger) -> None:
    await ledger.book(request("a", 4, slots=("d2",)))
    with pytest.raises(FailedPrecondition) as caught:
        await ledger.book(request("b", 2, slots=("d1", "d2", "d3")))
    assert caught.value.reason == "SOLD_OUT" and caught.value.metadata["available"] == "1"
    assert await taken(ledger, "d1", "d2", "d3") == [0, 4, 0]
    with pytest.raises(NotFound):
        await ledger.get("b")
    with pytest.raises(FailedPrecondition):
        await ledger.book(request("c", 6))  # more than the capacity at all


async def test_cancel_gives_back_and_tombstones_refuse_late_bookings(ledger: Ledger) -> None:
    await ledger.book(request("a", 3, slots=("d1", "d2")))
    cancelled = await ledger.cancel("a")
    assert cancelled.status == CANCELLED and await taken(ledger, "d1", "d2") == [0, 0]
    assert await ledger.cancel("a") == cancelled
    tombstone = await ledger.cancel("never-booked")
    assert tombstone.status == CANCELLED and tombstone.units == ()
    for key in ("a", "never-booked"):
        with pytest.raises(FailedPrecondition) as caught:
            await ledger.book(request(key, 3, slots=("d1", "d2")))
        assert caught.value.reason == "ALREADY_CANCELLED"
    assert await taken(ledger, "d1", "d2") == [0, 0]


async def test_concurrent_bookings_in_one_batch_never_oversell(ledger: Ledger) -> None:
    results = await asyncio.gather(
        *(ledger.book(request(f"k{n}", 1)) for n in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 5
    assert all(isinstance(r, FailedPrecondition) for r in results if isinstance(r, BaseException))
    same = await asyncio.gather(*(ledger.book(request("same", 1, slots=("d9",))) for _ in range(10)))
    assert len({r.booking_id for r in same}) == 1 and await taken(ledger, "d9") == [1]


async def test_a_refused_booking_in_a_batch_leaves_nothing_while_the_others_commit(ledger: Ledger) -> None:
    await ledger.book(request("full", 4, slots=("d2",)))
    # Queued together, these commit as one batch; "x*" take d1 before failing on d2.
    results = await asyncio.gather(
        *(ledger.book(request(f"x{n}", 2, slots=("d1", "d2"))) for n in range(3)),
        *(ledger.book(request(f"ok{n}", 1, slots=("d1",))) for n in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(r, FailedPrecondition) and r.reason == "SOLD_OUT" for r in results[:3])
    assert not any(isinstance(r, BaseException) for r in results[3:])
    assert await taken(ledger, "d1", "d2") == [3, 4]
    for n in range(3):
        with pytest.raises(NotFound):
            await ledger.get(f"x{n}")

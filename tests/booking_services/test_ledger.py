"""Unit tests of the idempotent ledger on a real SQLite file (PostgreSQL is covered end to end)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from booking_runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from booking_runtime.ledger import BOOKED, CANCELLED, BookingRequest, Ledger, Unit
from booking_runtime.storage import Database
from booking_runtime.storage_sqlite import SqliteWriter, WriteJob
from booking_runtime.tables import metadata


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "ledger.db"), schema="test")
    await database.create_schema(metadata)
    yield database
    await database.close()


@pytest.fixture
def ledger(db: Database) -> Ledger:
    return Ledger(db, "T", "seats")


async def in_one_batch(
    db: Database, monkeypatch: pytest.MonkeyPatch, calls: list[Coroutine[Any, Any, Any]]
) -> list[Any]:
    """Run `calls` (writes) as one SQLite batch, for sure: results, or exceptions, in order.

    A write that waits on an Event holds the writer thread while the calls queue up behind it;
    released, the writer takes them all at once. A spy on the writer checks that they ran as one
    batch (in savepoints), not one by one.
    """
    batches: list[int] = []
    run_batch = SqliteWriter._run_batch

    def spy(writer: SqliteWriter, conn: sa.Connection, batch: list[WriteJob]) -> None:
        batches.append(len(batch))
        run_batch(writer, conn, batch)

    monkeypatch.setattr(SqliteWriter, "_run_batch", spy)
    holding, release = threading.Event(), threading.Event()

    def hold(conn: sa.Connection) -> None:
        holding.set()
        assert release.wait(10), "the test never released the writer"

    held = asyncio.ensure_future(db.write(hold))
    assert await asyncio.to_thread(holding.wait, 10), "the writer never ran the holding write"
    tasks = [asyncio.ensure_future(call) for call in calls]
    writer = db._writer
    assert writer is not None
    for _ in range(1000):  # each call queues its write at its first await
        if writer._queue.qsize() >= len(calls):
            break
        await asyncio.sleep(0.001)
    assert writer._queue.qsize() == len(calls)
    release.set()
    await held
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert batches == [1, len(calls)], f"expected the holding write, then one batch: {batches}"
    return results


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


async def test_concurrent_bookings_in_one_batch_never_oversell(
    db: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = await in_one_batch(db, monkeypatch, [ledger.book(request(f"k{n}", 1)) for n in range(20)])
    assert sum(not isinstance(r, BaseException) for r in results) == 5
    assert all(isinstance(r, FailedPrecondition) for r in results if isinstance(r, BaseException))
    same = await in_one_batch(
        db, monkeypatch, [ledger.book(request("same", 1, slots=("d9",))) for _ in range(10)]
    )
    assert not any(isinstance(r, BaseException) for r in same)
    assert len({r.booking_id for r in same}) == 1 and await taken(ledger, "d9") == [1]


async def test_a_refused_booking_in_a_batch_leaves_nothing_while_the_others_commit(
    db: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ledger.book(request("full", 4, slots=("d2",)))
    # Queued together, these commit as one batch; "x*" take d1 before failing on d2.
    results = await in_one_batch(
        db,
        monkeypatch,
        [
            *(ledger.book(request(f"x{n}", 2, slots=("d1", "d2"))) for n in range(3)),
            *(ledger.book(request(f"ok{n}", 1, slots=("d1",))) for n in range(3)),
        ],
    )
    assert all(isinstance(r, FailedPrecondition) and r.reason == "SOLD_OUT" for r in results[:3])
    assert not any(isinstance(r, BaseException) for r in results[3:])
    assert await taken(ledger, "d1", "d2") == [3, 4]
    for n in range(3):
        with pytest.raises(NotFound):
            await ledger.get(f"x{n}")

"""What a chaos run finds once the faults have stopped: the trips (GetTrip, over every API), the workflow
runs (Temporal visibility), the rows of each service's tables (read straight from its database through
booking_runtime.storage; the replicas of a service share it), and what Search shows for every slot those
rows touch, asked of every replica.

The result is plain data (`Observed`), so the invariant checker is a pure function of it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import grpc
import sqlalchemy as sa
from temporalio.client import Client
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from booking_runtime.storage import Database
from booking_runtime.tables import bookings, catalog, inventory
from scripts.chaos_plan import body_of

SETTLED = frozenset(
    {"TRIP_STATUS_CONFIRMED", "TRIP_STATUS_FAILED", "TRIP_STATUS_CANCELLED", "TRIP_STATUS_COMPLETED"}
)
CAPACITY_FIELD = {"flight": "seats", "hotel": "rooms", "cab": "cabs_per_hour"}
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# How long a read keeps retrying a refusal: e.g. a PostgreSQL server shared with other work that is
# out of connections for a while ("too many clients"), which a service answers UNAVAILABLE.
READ_PATIENCE = 120.0
T = TypeVar("T")


@dataclass(frozen=True)
class StepView:
    name: str
    status: str
    idempotency_key: str
    confirmation_id: str
    attempts: int
    last_error: str


@dataclass(frozen=True)
class TripView:
    """A trip as GetTrip shows it at the end of the run."""

    trip_id: str
    request_id: str
    status: str
    body: str
    steps: tuple[StepView, ...]
    failure_reason: str

    @classmethod
    def from_proto(cls, trip: trip_pb2.Trip) -> TripView:
        return cls(
            trip_id=trip.trip_id,
            request_id=trip.request_id,
            status=trip_pb2.TripStatus.Name(trip.status),
            body=body_of(trip.customer_id, trip.flight, trip.hotel),
            steps=tuple(
                StepView(
                    s.name,
                    trip_pb2.StepStatus.Name(s.status),
                    s.idempotency_key,
                    s.confirmation_id,
                    s.attempts,
                    s.last_error[:300],
                )
                for s in trip.steps
            ),
            failure_reason=trip.failure_reason[:300],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "trip_id": self.trip_id,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status,
                    "key": s.idempotency_key,
                    "confirmation_id": s.confirmation_id,
                    "attempts": s.attempts,
                    "last_error": s.last_error,
                }
                for s in self.steps
            ],
        }


@dataclass(frozen=True)
class BookingRow:
    """One row of a service's bookings table."""

    service: str
    key: str
    booking_id: str
    status: str
    units: tuple[tuple[str, str, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "key": self.key,
            "booking_id": self.booking_id,
            "status": self.status,
            "units": [list(u) for u in self.units],
        }


Slot = tuple[str, str, str]  # (service, resource, slot)


@dataclass
class Observed:
    trips: dict[str, TripView | None] = field(default_factory=dict)  # request_id -> trip (None: no trip)
    runs: dict[str, int] = field(default_factory=dict)  # workflow id -> number of runs
    rows: list[BookingRow] = field(default_factory=list)
    taken: dict[Slot, int] = field(default_factory=dict)  # the inventory table's `taken`
    capacity: dict[tuple[str, str], int] = field(default_factory=dict)  # (service, resource) -> catalog
    search: dict[Slot, int | None] = field(default_factory=dict)  # what Search shows (None: not listed)
    # Scaled runs: what Search shows on each further replica (`flight-2`, ...); the first is `search`.
    replica_search: dict[str, dict[Slot, int | None]] = field(default_factory=dict)
    # Scaled runs: the work each process did (scripts/chaos_work.py): name -> {what: how many}.
    work: dict[str, dict[str, int]] = field(default_factory=dict)
    # Each workflow's history replayed on today's TripWorkflow (scripts/chaos_replay.py): workflow
    # id -> why its replay failed, "" when it replayed.
    replays: dict[str, str] = field(default_factory=dict)


async def bounded(calls: Iterable[Awaitable[T]], limit: int = 16) -> list[T]:
    """Await the calls (coroutines not yet started), at most `limit` at a time, in order."""
    slots = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with slots:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def get_trip(
    stubs: Sequence[trip_pb2_grpc.TripServiceAsyncStub], trip_id: str, first: int = 0
) -> TripView | None:
    """GetTrip, retried while the API or Temporal is not answering; None for NOT_FOUND.

    Attempt i goes to API `first + i` (of several), so the reads spread over every API.
    """
    delay = 0.2
    for attempt in range(60):
        stub = stubs[(first + attempt) % len(stubs)]
        try:
            return TripView.from_proto(
                await stub.GetTrip(trip_pb2.GetTripRequest(trip_id=trip_id), timeout=20)
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
        await asyncio.sleep(delay)
        delay = min(2.0, delay * 2)
    raise TimeoutError(f"GetTrip {trip_id} kept failing")


async def settle(
    stubs: Sequence[trip_pb2_grpc.TripServiceAsyncStub], request_ids: list[str], timeout: float
) -> dict[str, TripView | None]:
    """Read every trip until none is BOOKING or COMPENSATING, or `timeout` passes (then as they are)."""
    trips: dict[str, TripView | None] = {}
    pending = list(request_ids)
    deadline = time.monotonic() + timeout
    while True:
        found = await bounded(get_trip(stubs, f"trip-{r}", i) for i, r in enumerate(pending))
        trips.update(zip(pending, found, strict=True))
        pending = [r for r, trip in zip(pending, found, strict=True) if trip and trip.status not in SETTLED]
        if not pending or time.monotonic() > deadline:
            return trips
        await asyncio.sleep(1.0)


async def workflow_runs(client: Client) -> dict[str, int]:
    """Runs per TripWorkflow id, from visibility (the run's namespace holds only this run's trips)."""
    runs: Counter[str] = Counter()
    async for execution in client.list_workflows("WorkflowType = 'TripWorkflow'", page_size=1000):
        runs[execution.id] += 1
    return dict(runs)


async def patiently(call: Callable[[], Awaitable[T]], retry: Callable[[BaseException], bool]) -> T:
    """`call()`, again while it fails with an error `retry` accepts, for up to READ_PATIENCE seconds."""
    give_up = time.monotonic() + READ_PATIENCE
    delay = 0.2
    while True:
        try:
            return await call()
        except Exception as err:
            if not retry(err) or time.monotonic() > give_up:
                raise
        await asyncio.sleep(delay)
        delay = min(2.0, delay * 2)


def retryable_rpc(err: BaseException) -> bool:
    return isinstance(err, grpc.aio.AioRpcError) and err.code() in RETRYABLE


def _refused(err: BaseException) -> bool:
    """A database error or a connection that failed (the read is then made again from the start)."""
    return isinstance(err, sa.exc.DBAPIError | OSError)


async def read_tables(service: str, target: str, observed: Observed) -> None:
    """The service's bookings, inventory and catalog, straight from its database."""
    found = await patiently(lambda: _read_tables(service, target), _refused)
    observed.rows.extend(found.rows)
    observed.taken.update(found.taken)
    observed.capacity.update(found.capacity)


async def _read_tables(service: str, target: str) -> Observed:
    observed = Observed()
    db = Database(target, schema=service)
    try:
        async with db.read() as conn:
            for row in (await conn.execute(sa.select(bookings))).mappings():
                observed.rows.append(
                    BookingRow(
                        service,
                        row["idempotency_key"],
                        row["booking_id"],
                        row["status"],
                        tuple((str(r), str(s), int(q)) for r, s, q in row["units"]),
                    )
                )
            for row in (await conn.execute(sa.select(inventory))).mappings():
                observed.taken[(service, row["resource"], row["slot"])] = int(row["taken"])
            for row in (await conn.execute(sa.select(catalog))).mappings():
                observed.capacity[(service, row["item_id"])] = int(row["data"][CAPACITY_FIELD[service]])
    finally:
        await db.close()
    return observed


def slots_touched(observed: Observed) -> set[Slot]:
    """Every slot that the inventory table or any booking (live or cancelled) names."""
    slots = set(observed.taken)
    for row in observed.rows:
        slots.update((row.service, resource, slot) for resource, slot, _ in row.units)
    return slots


async def read_search(
    channels: dict[str, grpc.aio.Channel],
    slots: set[Slot],
    observed: Observed,
    into: dict[Slot, int | None] | None = None,
) -> None:
    """What each service's Search shows for every slot: one call per flight date, night, or city hour.

    Into `observed.search`, or `into` (one replica's view, when each replica is asked alone).
    """
    search = observed.search if into is None else into
    flights = flight_pb2_grpc.FlightServiceStub(channels["flight"])
    hotels = hotel_pb2_grpc.HotelServiceStub(channels["hotel"])
    cabs = cab_pb2_grpc.CabServiceStub(channels["cab"])

    async def flight_day(day: str) -> None:
        request = flight_pb2.SearchFlightsRequest(date=day)
        reply = await patiently(lambda: flights.SearchFlights(request, timeout=20), retryable_rpc)
        levels = {f.flight_number: f.seats_available for f in reply.flights}
        for service, resource, slot in slots:
            if service == "flight" and slot == day:
                search[(service, resource, slot)] = levels.get(resource)

    async def hotel_night(night: str) -> None:
        check_out = (date.fromisoformat(night) + timedelta(days=1)).isoformat()
        request = hotel_pb2.SearchHotelsRequest(check_in=night, check_out=check_out)
        reply = await patiently(lambda: hotels.SearchHotels(request, timeout=20), retryable_rpc)
        levels = {h.hotel_id: h.rooms_available for h in reply.hotels}
        for service, resource, slot in slots:
            if service == "hotel" and slot == night:
                search[(service, resource, slot)] = levels.get(resource)

    async def cab_hour(city: str, hour: str) -> None:
        request = cab_pb2.SearchCabsRequest(city=city, pickup_time=f"{hour}:00:00Z")
        reply = await patiently(lambda: cabs.SearchCabs(request, timeout=20), retryable_rpc)
        search[("cab", city, hour)] = reply.cabs_available

    calls: list[Awaitable[None]] = []
    calls += [flight_day(day) for day in sorted({slot for v, _, slot in slots if v == "flight"})]
    calls += [hotel_night(night) for night in sorted({slot for v, _, slot in slots if v == "hotel"})]
    calls += [cab_hour(city, hour) for v, city, hour in sorted(slots) if v == "cab"]
    await bounded(calls)

"""Property-based tests of every RPC of the four servers, through the real processes (one stack).

For each RPC, hypothesis draws requests (a valid base with hostile fields: control characters,
quotes, look-alike dates and times, values past each limit, 100,000-character strings) and raw
random bytes. Every answer must be a documented code (never UNKNOWN, INTERNAL, CANCELLED or an
UNAVAILABLE of unknown outcome in a healthy stack), every INVALID_ARGUMENT must name one field, no
status may grow past 2 KiB of headers, and a refused BookTrip must not have started a workflow.
At the end, what each service holds is exactly what the accepted bookings and trips hold (so
refused input took nothing), and every server is still SERVING.

Seeds are fixed (derandomize) with FUZZ_EXAMPLES examples per RPC (default 25, for `make test`);
FUZZ_EXAMPLES=500 FUZZ_SEED=<n> runs longer, with other draws. The figures go to the log and to
fuzz-figures.json in the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2

from booking_runtime.catalog import read_catalog_file
from cab_svc.__main__ import DEFINITION as CAB
from flight_svc.__main__ import DEFINITION as FLIGHT
from hotel_svc.__main__ import DEFINITION as HOTEL
from tests.fuzz.requests import BOOKING_REPLIES, RPCS, Rpc, build, nights
from tests.fuzz.strategies import DIRECT_DAYS, TRIP_DAYS, day, raw_bytes
from tests.orchestrator.stack import Stack, running_stack
from tests.support.raw_calls import metadata_bytes, named_fields
from tests.support.reflection_client import error_info
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("FUZZ_SEED")
DOCUMENTED = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION"}
T = TypeVar("T")


@dataclass
class Outcome:
    code: str
    reply: bytes | None = None
    error: grpc.aio.AioRpcError | None = None


@dataclass
class Fuzz:
    """The stack, the loop its channels live on, and what the run saw and had accepted."""

    stack: Stack
    loop: asyncio.AbstractEventLoop
    codes: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    booked: dict[str, set[str]] = field(default_factory=lambda: collections.defaultdict(set))
    trips: set[str] = field(default_factory=set)
    calls: int = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the test's event loop from hypothesis's thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(180)

    async def send(self, rpc: Rpc, body: bytes) -> Outcome:
        channel = self.stack.channel(rpc.server)
        try:
            if rpc.stream:
                call: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(rpc.path)
                stream = call(body, timeout=30)
                try:
                    async for reply in stream:
                        return Outcome("OK", bytes(reply))
                    return Outcome("OK", b"")
                finally:
                    stream.cancel()
            unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(rpc.path)
            return Outcome("OK", await unary(body, timeout=60))
        except grpc.aio.AioRpcError as error:
            return Outcome(error.code().name, error=error)

    def check(self, rpc: Rpc, outcome: Outcome, fields: set[str]) -> None:
        """The answer is one a client can act on."""
        self.calls += 1
        self.codes[f"{rpc.server}.{rpc.method}"][outcome.code] += 1
        error = outcome.error
        assert outcome.code in DOCUMENTED, (rpc.method, outcome.code, error and error.details())
        if error is None:
            return
        assert metadata_bytes(error) < 2048, (rpc.method, metadata_bytes(error))
        info = error_info(error)
        assert info is None or info.reason != "OUTCOME_UNKNOWN", (rpc.method, error.details())
        if outcome.code == "INVALID_ARGUMENT":
            named = named_fields(error)
            assert len(named) == 1 and named[0] in fields | {"request"}, (rpc.method, named, fields)
            assert (error.details() or "").startswith(f"{named[0]}:"), error.details()

    async def after(self, rpc: Rpc, request: Any, outcome: Outcome) -> None:
        """Remember what was accepted; a refused BookTrip must have started no workflow."""
        if outcome.code == "OK" and rpc.method in BOOKING_REPLIES and outcome.reply is not None:
            booking: Any = BOOKING_REPLIES[rpc.method].FromString(outcome.reply)
            self.booked[rpc.server].add(booking.idempotency_key)
        if rpc.method != "BookTrip" or request is None:
            return
        if outcome.code == "OK":
            self.trips.add(request.request_id)
        elif request.request_id not in self.trips:
            await self.no_workflow(f"trip-{request.request_id}")

    async def no_workflow(self, workflow_id: str) -> None:
        try:
            await self.stack.client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            assert err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT), err
            return
        raise AssertionError(f"a refused BookTrip started {workflow_id[:80]!r}")


def fuzzed(test: Callable[..., None]) -> Callable[..., None]:
    """Fixed draws in `make test`; FUZZ_SEED=<n> for others."""
    configured = settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )(test)
    return seed(int(SEED))(configured) if SEED is not None else configured


@pytest.fixture(scope="module")
async def fuzz(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fuzz]:
    workdir = tmp_path_factory.mktemp("fuzz")
    async with running_stack(workdir) as stack:
        state = Fuzz(stack, asyncio.get_running_loop())
        started = time.monotonic()
        yield state
        figures = {
            "examples_per_rpc": EXAMPLES,
            "seed": SEED or "derandomized",
            "calls": state.calls,
            "seconds": round(time.monotonic() - started, 1),
            "codes": {rpc: dict(codes) for rpc, codes in sorted(state.codes.items())},
        }
        (workdir / "fuzz-figures.json").write_text(json.dumps(figures, indent=2))
        print("fuzz figures:", json.dumps(figures))


@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: f"{rpc.server}.{rpc.method}")
async def test_every_field_of_every_rpc_gets_an_answer_a_client_can_act_on(fuzz: Fuzz, rpc: Rpc) -> None:
    @fuzzed
    @given(data=st.data())
    def requests(data: st.DataObject) -> None:
        request, hostile = build(rpc, data)
        outcome = fuzz.run(fuzz.send(rpc, request.SerializeToString()))
        fuzz.check(rpc, outcome, set(hostile) | {f.name for f in request.DESCRIPTOR.fields} | _paths(request))
        fuzz.run(fuzz.after(rpc, request, outcome))

    await asyncio.to_thread(requests)


@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: f"{rpc.server}.{rpc.method}")
async def test_raw_bytes_to_every_rpc_get_an_answer_a_client_can_act_on(fuzz: Fuzz, rpc: Rpc) -> None:
    @fuzzed
    @given(body=raw_bytes)
    def bodies(body: bytes) -> None:
        outcome = fuzz.run(fuzz.send(rpc, body))
        fuzz.check(rpc, outcome, _paths(rpc.message()))
        try:
            request = rpc.message.FromString(body)
        except Exception:
            request = None
        fuzz.run(fuzz.after(rpc, request, outcome))

    await asyncio.to_thread(bodies)


def _paths(message: Any, prefix: str = "") -> set[str]:
    """Every field path of a message type (`flight.date`), as an INVALID_ARGUMENT may name it."""
    paths = set()
    for fd in message.DESCRIPTOR.fields:
        paths.add(prefix + fd.name)
        if fd.message_type is not None and not fd.is_repeated:
            paths |= _paths(getattr(message, fd.name), f"{prefix}{fd.name}.")
    return paths


async def test_refused_input_took_nothing_and_every_server_is_still_serving(fuzz: Fuzz) -> None:
    """Runs after the fuzz above: inventory is capacity minus what accepted bookings and trips hold."""
    stack = fuzz.stack
    trips = stack.trips()

    async def settled() -> list[trip_pb2.Trip] | None:
        found = [
            await trips.GetTrip(trip_pb2.GetTripRequest(trip_id=f"trip-{r}"), timeout=15) for r in fuzz.trips
        ]
        return found if all(t.status != trip_pb2.TRIP_STATUS_BOOKING for t in found) else None

    for trip in await wait_for(settled, timeout=120, interval=0.5, what="the fuzz's trips settled") or []:
        for step in trip.steps:
            fuzz.booked[step.name].add(step.idempotency_key)
    held = await _held(stack, fuzz.booked)
    await _assert_inventory(stack, held)
    for name in ("flight", "hotel", "cab", "trip"):
        reply = await health_pb2_grpc.HealthStub(stack.channel(name)).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


async def _held(stack: Stack, booked: dict[str, set[str]]) -> collections.Counter[tuple[str, str, str]]:
    """(service, resource, slot) -> units held by the accepted keys still BOOKED."""
    held: collections.Counter[tuple[str, str, str]] = collections.Counter()
    flights = flight_pb2_grpc.FlightServiceStub(stack.channel("flight"))
    hotels = hotel_pb2_grpc.HotelServiceStub(stack.channel("hotel"))
    cabs = cab_pb2_grpc.CabServiceStub(stack.channel("cab"))
    for key in booked["flight"]:
        flight = await _found(
            flights.GetFlightBooking(flight_pb2.GetFlightBookingRequest(idempotency_key=key))
        )
        if flight is not None and flight.status == flight_pb2.BOOKED:
            held["flight", flight.flight_number, flight.date] += flight.seats
    for key in booked["hotel"]:
        stay = await _found(
            hotels.GetHotelReservation(hotel_pb2.GetHotelReservationRequest(idempotency_key=key))
        )
        if stay is not None and stay.status == hotel_pb2.BOOKED:
            for night in nights(stay.check_in, stay.check_out):
                held["hotel", stay.hotel_id, night] += stay.rooms
    for key in booked["cab"]:
        ride = await _found(cabs.GetCabBooking(cab_pb2.GetCabBookingRequest(idempotency_key=key)))
        if ride is not None and ride.status == cab_pb2.BOOKED:
            held["cab", ride.city, ride.pickup_time[:13]] += 1
    return held


async def _found(call: Awaitable[T]) -> T | None:
    """The booking, or None for a key its service never saw (a trip's step that never ran)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None


async def _assert_inventory(stack: Stack, held: collections.Counter[tuple[str, str, str]]) -> None:
    days = [day(n) for n in (*DIRECT_DAYS, *TRIP_DAYS)]
    flights = flight_pb2_grpc.FlightServiceStub(stack.channel("flight"))
    seats = {
        i["flight_number"]: int(i["seats"]) for i in read_catalog_file(FLIGHT.catalog_file, "flight_number")
    }
    for when in days:
        for f in (await flights.SearchFlights(flight_pb2.SearchFlightsRequest(date=when))).flights:
            assert f.seats_available == seats[f.flight_number] - held["flight", f.flight_number, when], (
                f,
                when,
            )
    hotels = hotel_pb2_grpc.HotelServiceStub(stack.channel("hotel"))
    rooms = {i["hotel_id"]: int(i["rooms"]) for i in read_catalog_file(HOTEL.catalog_file, "hotel_id")}
    for night in [*days, *(day(n) for n in (DIRECT_DAYS[-1] + 1, DIRECT_DAYS[-1] + 2, TRIP_DAYS[-1] + 1))]:
        stay = hotel_pb2.SearchHotelsRequest(check_in=night, check_out=_next(night))
        for h in (await hotels.SearchHotels(stay)).hotels:
            assert h.rooms_available == rooms[h.hotel_id] - held["hotel", h.hotel_id, night], (h, night)
    cabs = cab_pb2_grpc.CabServiceStub(stack.channel("cab"))
    fleets = {i["city"]: int(i["cabs_per_hour"]) for i in read_catalog_file(CAB.catalog_file, "city")}
    for when in days:
        for hour in ("09", "10", "18"):
            for city, capacity in fleets.items():
                pickup = f"{when}T{hour}:00:00Z"
                reply = await cabs.SearchCabs(cab_pb2.SearchCabsRequest(city=city, pickup_time=pickup))
                assert reply.cabs_available == capacity - held["cab", city, f"{when}T{hour}"], (city, pickup)


def _next(night: str) -> str:
    return (date.fromisoformat(night) + timedelta(days=1)).isoformat()

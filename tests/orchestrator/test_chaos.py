"""The saga under failure, end to end: whatever breaks, no booking is lost, none is taken twice, and
none is left behind that no confirmed trip owns.

Every booking service fails a share of its book and cancel calls: the flight and hotel services
*after* committing (the reply is lost, so the saga cannot know whether it booked), the cab service
before (the request is lost). Some trips ask for more rooms than their hotel has, so they fail and
are compensated under the same faults, and the worker is killed with SIGKILL in the middle of it
all. Then every trip's outcome is checked against what each service actually holds; last, some
confirmed trips are cancelled, still under faults, and must give everything back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2

from tests.orchestrator.stack import Stack, running_stack
from tests.orchestrator.trips import SOLD_OUT_HOTEL, TripRequests, booking_status
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

FAULT_RATE = "0.3"
FAULTS = {
    "FLIGHT_FAULT_METHODS": "BookFlight,CancelFlightBooking",
    "FLIGHT_FAULT_PHASE": "after",
    "HOTEL_FAULT_METHODS": "ReserveHotel,CancelHotelReservation",
    "HOTEL_FAULT_PHASE": "after",
    "CAB_FAULT_METHODS": "ScheduleCab,CancelCab",
    "CAB_FAULT_PHASE": "before",
    **{f"{svc}_FAULT_RATE": FAULT_RATE for svc in ("FLIGHT", "HOTEL", "CAB")},
}
CONFIRMING_TRIPS = 10
SOLD_OUT_TRIPS = 4
# Three days apart: each trip's two hotel nights and its flight day are its own, so what a service
# holds for one trip's dates can be checked alone.
book_request = TripRequests(first_day=120, spacing=3, prefix="chaos", customer="chaos")


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("chaos"), extra_env=FAULTS) as running:
        yield running


def trip_request(sold_out: bool) -> trip_pb2.BookTripRequest:
    # BookTrip returns at once; the test follows the trips with GetTrip.
    if sold_out:
        return book_request(hotel=SOLD_OUT_HOTEL, rooms=3, wait=False)
    return book_request(wait=False)


async def held(stack: Stack, request: trip_pb2.BookTripRequest) -> tuple[int, int, int]:
    """Seats, rooms and cabs still free for this trip's flight, stay and pickup hour."""
    flights = await stack.flights().SearchFlights(
        flight_pb2.SearchFlightsRequest(origin="LHR", destination="LIS", date=request.flight.date)
    )
    hotels = await hotel_pb2_grpc.HotelServiceStub(stack.channel("hotel")).SearchHotels(
        hotel_pb2.SearchHotelsRequest(
            city="Lisbon", check_in=request.hotel.check_in, check_out=request.hotel.check_out
        )
    )
    cabs = await cab_pb2_grpc.CabServiceStub(stack.channel("cab")).SearchCabs(
        cab_pb2.SearchCabsRequest(city="Lisbon", pickup_time=request.cab.pickup_time)
    )
    seats = next(f.seats_available for f in flights.flights if f.flight_number == "TB101")
    rooms = next(h.rooms_available for h in hotels.hotels if h.hotel_id == request.hotel.hotel_id)
    return seats, rooms, cabs.cabs_available


async def test_faults_lost_replies_and_a_killed_worker_never_lose_or_leak_a_booking(stack: Stack) -> None:
    requests = [trip_request(sold_out=False) for _ in range(CONFIRMING_TRIPS)]
    requests += [trip_request(sold_out=True) for _ in range(SOLD_OUT_TRIPS)]
    before = {r.request_id: await held(stack, r) for r in requests}
    trips = stack.trips()
    replies = await asyncio.gather(*(trips.BookTrip(r, timeout=60) for r in requests))
    ids = [reply.trip_id for reply in replies]

    async def some_progress() -> bool:
        states = await asyncio.gather(*(trips.GetTrip(trip_pb2.GetTripRequest(trip_id=i)) for i in ids))
        return sum(s.steps[0].attempts > 0 for s in states) >= 3

    await wait_for(some_progress, timeout=60, what="trips under way")
    stack.processes["worker"].kill()
    stack.start_worker()

    async def all_settled() -> list[trip_pb2.Trip] | None:
        states = await asyncio.gather(
            *(trips.GetTrip(trip_pb2.GetTripRequest(trip_id=i), timeout=15) for i in ids)
        )
        settled = {trip_pb2.TRIP_STATUS_CONFIRMED, trip_pb2.TRIP_STATUS_FAILED}
        return list(states) if all(s.status in settled for s in states) else None

    final = await wait_for(all_settled, timeout=180, interval=0.5, what="every trip confirmed or failed")
    # Only confirmed trips: their attempts are booking attempts alone (a failed trip's count also
    # holds its compensation calls, so it would pass without a single booking retry).
    retried = sum(
        step.attempts > 1
        for trip in final
        if trip.status == trip_pb2.TRIP_STATUS_CONFIRMED
        for step in trip.steps
    )
    assert retried > 0, "the faults should have forced some booking retries"

    for request, trip in zip(requests, final, strict=True):
        sold_out = request.hotel.hotel_id == SOLD_OUT_HOTEL
        expected = trip_pb2.TRIP_STATUS_FAILED if sold_out else trip_pb2.TRIP_STATUS_CONFIRMED
        assert trip.status == expected, (trip, stack.logs())
        statuses = {s.name: await booking_status(stack, s.name, s.idempotency_key) for s in trip.steps}
        seats, rooms, cabs = before[request.request_id]
        if sold_out:
            # The flight was booked, then cancelled; the hotel and cab hold nothing.
            assert statuses["flight"] == "CANCELLED"
            assert statuses["hotel"] in {"NONE", "CANCELLED"} and statuses["cab"] in {"NONE", "CANCELLED"}
            assert await held(stack, request) == (seats, rooms, cabs)
        else:
            # Each step booked exactly once, and it is the booking the trip names.
            assert statuses == {"flight": "BOOKED", "hotel": "BOOKED", "cab": "BOOKED"}
            assert all(s.confirmation_id for s in trip.steps)
            assert await held(stack, request) == (seats - 2, rooms - 1, cabs - 1)

    # Customers cancel some confirmed trips while the faults go on: everything is given back.
    cancelled = [
        (r, t) for r, t in zip(requests, final, strict=True) if t.status == trip_pb2.TRIP_STATUS_CONFIRMED
    ]
    cancelled = cancelled[:3]
    results = await asyncio.gather(
        *(trips.CancelTrip(trip_pb2.CancelTripRequest(trip_id=t.trip_id, reason="chaos"), timeout=120)
          for _, t in cancelled)
    )  # fmt: skip
    for (request, _), trip in zip(cancelled, results, strict=True):
        assert trip.status == trip_pb2.TRIP_STATUS_CANCELLED
        assert all(s.status == trip_pb2.STEP_STATUS_COMPENSATED for s in trip.steps)
        statuses = {s.name: await booking_status(stack, s.name, s.idempotency_key) for s in trip.steps}
        assert statuses == {"flight": "CANCELLED", "hotel": "CANCELLED", "cab": "CANCELLED"}
        assert await held(stack, request) == before[request.request_id]

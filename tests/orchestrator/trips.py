"""Trip requests and end-to-end checks shared by the modules that drive the real stack
(test_integration.py, test_integration_postgres.py, test_chaos.py).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

import grpc
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2

from tests.orchestrator.stack import Stack

CONFIRMED = trip_pb2.TRIP_STATUS_CONFIRMED
SOLD_OUT_HOTEL = "lis-tiny-inn"  # two rooms: three rooms there are SOLD_OUT


class TripRequests:
    """BookTripRequests for one test module, each on a flight day of its own.

    Days run from `first_day` ahead of today, `spacing` days apart: with a spacing over the stay's two
    nights, what a service holds for one trip's dates can be checked alone.
    """

    def __init__(
        self, first_day: int, *, spacing: int = 1, prefix: str = "it", customer: str = "alice"
    ) -> None:
        self._days = itertools.count(first_day, spacing)
        self._prefix = prefix
        self._customer = customer

    def next_day(self) -> date:
        return (datetime.now(UTC) + timedelta(days=next(self._days))).date()

    def __call__(
        self,
        *,
        customer: str | None = None,
        hotel: str = "lis-alfama-lodge",
        rooms: int = 1,
        wait: bool = True,
    ) -> trip_pb2.BookTripRequest:
        """Two seats on TB101, two nights from the flight day, a cab at 18:00 UTC that day."""
        day = self.next_day()
        return trip_pb2.BookTripRequest(
            request_id=f"{self._prefix}-{uuid.uuid4().hex[:10]}",
            customer_id=customer or self._customer,
            flight=trip_pb2.FlightRequest(flight_number="TB101", date=day.isoformat(), seats=2),
            hotel=trip_pb2.HotelRequest(
                hotel_id=hotel,
                check_in=day.isoformat(),
                check_out=(day + timedelta(days=2)).isoformat(),
                rooms=rooms,
            ),
            cab=trip_pb2.CabRequest(
                city="Lisbon",
                pickup_time=f"{day.isoformat()}T18:00:00Z",
                pickup_address="Airport",
                dropoff_address="Alfama",
            ),
            wait_for_outcome=wait,
        )


async def seats_left(stack: Stack, date: str) -> int:
    reply = await stack.flights().SearchFlights(
        flight_pb2.SearchFlightsRequest(origin="LHR", destination="LIS", date=date)
    )
    return next(f.seats_available for f in reply.flights if f.flight_number == "TB101")


def step(trip: trip_pb2.Trip, name: str) -> trip_pb2.TripStep:
    return next(s for s in trip.steps if s.name == name)


async def assert_confirmed(stack: Stack, request: trip_pb2.BookTripRequest) -> trip_pb2.BookTripResponse:
    """BookTrip (waiting for the outcome) confirms the trip, every step booked, and takes the seats."""
    before = await seats_left(stack, request.flight.date)
    reply = await stack.trips().BookTrip(request, timeout=60)
    assert reply.trip.status == CONFIRMED, stack.logs()
    assert all(s.status == trip_pb2.STEP_STATUS_BOOKED for s in reply.trip.steps)
    assert await seats_left(stack, request.flight.date) == before - request.flight.seats
    return reply


async def assert_sold_out_compensated(stack: Stack, request: trip_pb2.BookTripRequest) -> trip_pb2.Trip:
    """A sold-out hotel fails the trip: its flight is compensated and the seats are free again."""
    before = await seats_left(stack, request.flight.date)
    trip = (await stack.trips().BookTrip(request, timeout=60)).trip
    assert trip.status == trip_pb2.TRIP_STATUS_FAILED, stack.logs()
    assert step(trip, "flight").status == trip_pb2.STEP_STATUS_COMPENSATED
    assert "SOLD_OUT" in step(trip, "hotel").last_error
    assert await seats_left(stack, request.flight.date) == before
    return trip


async def booking_status(stack: Stack, step: str, key: str) -> str:
    """BOOKED, CANCELLED or NONE, as the step's own service records the key."""
    try:
        if step == "flight":
            flight = flight_pb2.GetFlightBookingRequest(idempotency_key=key)
            return flight_pb2.BookingStatus.Name((await stack.flights().GetFlightBooking(flight)).status)
        if step == "hotel":
            hotel = hotel_pb2_grpc.HotelServiceStub(stack.channel("hotel"))
            found = await hotel.GetHotelReservation(hotel_pb2.GetHotelReservationRequest(idempotency_key=key))
            return hotel_pb2.BookingStatus.Name(found.status)
        cab = cab_pb2_grpc.CabServiceStub(stack.channel("cab"))
        ride = await cab.GetCabBooking(cab_pb2.GetCabBookingRequest(idempotency_key=key))
        return cab_pb2.BookingStatus.Name(ride.status)
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return "NONE"
        raise

"""The saga's activities as gRPC calls to the flight, hotel and cab services.

Each method implements the activity of the same name declared in orchestrator/steps.py
(`TripActivities`: activity name, input, output), which is what the workflow calls.
One `BookingActivities` object per worker holds one grpc.aio channel per service (over all its replicas),
reused by every call
(opening a channel per call would cost a TCP and HTTP/2 handshake each time). A failed call becomes an
ApplicationError whose `type` is the gRPC code name and whose message carries the ErrorInfo reason; the
workflow decides with orchestrator.retry whether to try again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc

from booking_runtime import status_details
from orchestrator.channels import CHANNEL_OPTIONS as CHANNEL_OPTIONS  # re-exported for the tests
from orchestrator.channels import open_channel
from orchestrator.models import (
    BookFlightInput,
    CancelStepInput,
    ReserveHotelInput,
    ScheduleCabInput,
    StepConfirmation,
)
from orchestrator.steps import TripActivities

T = TypeVar("T")

# The gRPC deadline is this share of the activity's start_to_close, so the service's own answer
# (DEADLINE_EXCEEDED) usually arrives before the activity times out.
DEADLINE_SHARE = 0.9
DEFAULT_DEADLINE_SECONDS = 9.0


class BookingActivities(TripActivities):
    """The six activities; create once per worker, `await close()` on shutdown."""

    def __init__(self, flight_addr: str, hotel_addr: str, cab_addr: str) -> None:
        # Each address may list several replicas (orchestrator.channels: round-robin, failover, TLS,
        # tracing).
        self._channels = [open_channel(address) for address in (flight_addr, hotel_addr, cab_addr)]
        self._flight = flight_pb2_grpc.FlightServiceStub(self._channels[0])
        self._hotel = hotel_pb2_grpc.HotelServiceStub(self._channels[1])
        self._cab = cab_pb2_grpc.CabServiceStub(self._channels[2])

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close(None)

    async def book_flight(self, step: BookFlightInput) -> StepConfirmation:
        request = flight_pb2.BookFlightRequest(
            idempotency_key=step.idempotency_key,
            customer_id=step.customer_id,
            flight_number=step.flight.flight_number,
            date=step.flight.date,
            seats=step.flight.seats,
        )
        reply = await _call(self._flight.BookFlight(request, timeout=_deadline()))
        return StepConfirmation(reply.booking_id, reply.price_cents, reply.currency)

    async def cancel_flight(self, step: CancelStepInput) -> StepConfirmation:
        request = flight_pb2.CancelFlightBookingRequest(idempotency_key=step.idempotency_key)
        reply = await _call(self._flight.CancelFlightBooking(request, timeout=_deadline()))
        return StepConfirmation(reply.booking_id, reply.price_cents, reply.currency)

    async def reserve_hotel(self, step: ReserveHotelInput) -> StepConfirmation:
        request = hotel_pb2.ReserveHotelRequest(
            idempotency_key=step.idempotency_key,
            customer_id=step.customer_id,
            hotel_id=step.hotel.hotel_id,
            check_in=step.hotel.check_in,
            check_out=step.hotel.check_out,
            rooms=step.hotel.rooms,
        )
        reply = await _call(self._hotel.ReserveHotel(request, timeout=_deadline()))
        return StepConfirmation(reply.reservation_id, reply.price_cents, reply.currency)

    async def cancel_hotel(self, step: CancelStepInput) -> StepConfirmation:
        request = hotel_pb2.CancelHotelReservationRequest(idempotency_key=step.idempotency_key)
        reply = await _call(self._hotel.CancelHotelReservation(request, timeout=_deadline()))
        return StepConfirmation(reply.reservation_id, reply.price_cents, reply.currency)

    async def schedule_cab(self, step: ScheduleCabInput) -> StepConfirmation:
        request = cab_pb2.ScheduleCabRequest(
            idempotency_key=step.idempotency_key,
            customer_id=step.customer_id,
            city=step.cab.city,
            pickup_time=step.cab.pickup_time,
            pickup_address=step.cab.pickup_address,
            dropoff_address=step.cab.dropoff_address,
        )
        reply = await _call(self._cab.ScheduleCab(request, timeout=_deadline()))
        return StepConfirmation(reply.booking_id, reply.price_cents, reply.currency)

    async def cancel_cab(self, step: CancelStepInput) -> StepConfirmation:
        request = cab_pb2.CancelCabRequest(idempotency_key=step.idempotency_key)
        reply = await _call(self._cab.CancelCab(request, timeout=_deadline()))
        return StepConfirmation(reply.booking_id, reply.price_cents, reply.currency)


def _deadline() -> float:
    """gRPC deadline for this attempt, a little inside the activity's start_to_close timeout."""
    timeout = activity.info().start_to_close_timeout
    if timeout is None:
        return DEFAULT_DEADLINE_SECONDS
    return max(0.1, timeout.total_seconds() * DEADLINE_SHARE)


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        raise as_application_error(err) from None


def as_application_error(err: grpc.aio.AioRpcError) -> ApplicationError:
    """`type` = the code name (the retry table's key); message = "CODE (REASON): details"."""
    code = err.code().name
    reason = status_details.error_reason(err)
    label = f"{code} ({reason})" if reason and reason != code else code
    # Whether to try again is the workflow's call (orchestrator.retry): every local activity runs with
    # a single attempt, so marking the error non-retryable here would change nothing.
    return ApplicationError(f"{label}: {err.details() or ''}".rstrip(": "), type=code)

"""TripState (the workflow's dataclasses) to the TripService proto messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from tripbooking.trip.v1 import trip_pb2

from orchestrator.models import TripRequest, TripState, TripStatus


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def request_parts(
    request: TripRequest,
) -> tuple[trip_pb2.FlightRequest, trip_pb2.HotelRequest, trip_pb2.CabRequest]:
    flight, hotel, cab = request.flight, request.hotel, request.cab
    return (
        trip_pb2.FlightRequest(flight_number=flight.flight_number, date=flight.date, seats=flight.seats),
        trip_pb2.HotelRequest(
            hotel_id=hotel.hotel_id, check_in=hotel.check_in, check_out=hotel.check_out, rooms=hotel.rooms
        ),
        trip_pb2.CabRequest(
            city=cab.city,
            pickup_time=cab.pickup_time,
            pickup_address=cab.pickup_address,
            dropoff_address=cab.dropoff_address,
        ),
    )


def trip_to_proto(state: TripState) -> trip_pb2.Trip:
    flight, hotel, cab = request_parts(state.request)
    return trip_pb2.Trip(
        trip_id=state.trip_id,
        request_id=state.request.request_id,
        customer_id=state.request.customer_id,
        status=trip_pb2.TripStatus.Value(state.status.value),
        steps=[
            trip_pb2.TripStep(
                name=step.name,
                status=trip_pb2.StepStatus.Value(step.status.value),
                confirmation_id=step.confirmation_id,
                attempts=step.attempts,
                last_error=step.last_error,
                idempotency_key=step.idempotency_key,
                price_cents=step.price_cents,
                currency=step.currency,
            )
            for step in state.steps
        ],
        failure_reason=state.failure_reason,
        created_at=timestamp(state.created_at),
        updated_at=timestamp(state.updated_at),
        flight=flight,
        hotel=hotel,
        cab=cab,
        ends_at=timestamp(state.ends_at),
    )


def status_to_proto(status: str) -> trip_pb2.TripStatus.ValueType:
    """A TripStatus search attribute value to the proto enum (UNSPECIFIED when unknown)."""
    try:
        return trip_pb2.TripStatus.Value(TripStatus(status).value)
    except ValueError:
        return trip_pb2.TRIP_STATUS_UNSPECIFIED


def status_from_proto(status: trip_pb2.TripStatus.ValueType) -> TripStatus | None:
    """A ListTrips filter: None for UNSPECIFIED (any status)."""
    if status == trip_pb2.TRIP_STATUS_UNSPECIFIED:
        return None
    return TripStatus(trip_pb2.TripStatus.Name(status))

"""BookTrip input checks: every field is checked before any workflow starts.

Each refusal is an InvalidArgument naming the field with its proto path (`flight.date`,
`hotel.check_out`), so a client can point at the exact input to fix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tripbooking.trip.v1 import trip_pb2

from booking_runtime import validation as shared
from booking_runtime.errors import InvalidArgument
from orchestrator.models import CabSpec, FlightSpec, HotelSpec, TripRequest, step_key, trip_id_for

# The trip id ("trip-" + request_id) and each step's idempotency key at its service
# ("trip-<request_id>:flight", flight being the longest step name) are ids too: at most 128 characters.
MAX_REQUEST_ID_LENGTH = shared.MAX_ID_LENGTH - len(trip_id_for("")) - len(step_key("", "flight"))
REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID_LENGTH}}}")
# The booking services' own checks (booking_runtime.validation) run here too, under the proto field
# paths: a request they would refuse as INVALID_ARGUMENT must be refused before a trip starts, not
# after its flight is booked. The rules below them are the trip's own.


def parse_book_request(request: trip_pb2.BookTripRequest, now: datetime) -> TripRequest:
    """The validated request; nothing may be booked before `now` (its UTC day, or hour for the cab)."""
    today = now.astimezone(UTC).date()
    if not REQUEST_ID.fullmatch(request.request_id):
        raise InvalidArgument(
            "request_id",
            f"required: 1 to {MAX_REQUEST_ID_LENGTH} characters of letters, digits, '.', '_', ':' and '-'",
        )
    customer_id = shared.identifier("customer_id", request.customer_id)
    for part in ("flight", "hotel", "cab"):
        if not request.HasField(part):
            raise InvalidArgument(part, "required")
    flight, hotel, cab = request.flight, request.hotel, request.cab

    flight_date = shared.bookable_date("flight.date", flight.date, today=today)
    check_in = shared.bookable_date("hotel.check_in", hotel.check_in, today=today)
    check_out = shared.bookable_date("hotel.check_out", hotel.check_out, extra_days=1, today=today)
    if check_out <= check_in:
        raise InvalidArgument("hotel.check_out", f"must be after hotel.check_in ({hotel.check_in})")
    if check_out <= flight_date:
        # The trip completes at check-out: it must not end before its flight.
        raise InvalidArgument("hotel.check_out", f"must be after flight.date ({flight.date})")
    if (check_out - check_in).days > shared.MAX_NIGHTS:
        raise InvalidArgument("hotel.check_out", f"a stay is at most {shared.MAX_NIGHTS} nights")
    shared.bookable_pickup("cab.pickup_time", cab.pickup_time, now=now)
    return TripRequest(
        request_id=request.request_id,
        customer_id=customer_id,
        flight=FlightSpec(
            flight_number=shared.identifier("flight.flight_number", flight.flight_number),
            date=flight_date.isoformat(),
            seats=shared.count("flight.seats", flight.seats),
        ),
        hotel=HotelSpec(
            hotel_id=shared.identifier("hotel.hotel_id", hotel.hotel_id),
            check_in=check_in.isoformat(),
            check_out=check_out.isoformat(),
            rooms=shared.count("hotel.rooms", hotel.rooms),
        ),
        cab=CabSpec(
            city=shared.text("cab.city", cab.city),
            pickup_time=cab.pickup_time,
            pickup_address=shared.text("cab.pickup_address", cab.pickup_address),
            dropoff_address=shared.text("cab.dropoff_address", cab.dropoff_address),
        ),
    )


def require_trip_id(trip_id: str) -> str:
    return shared.identifier("trip_id", trip_id)


def cancel_reason(reason: str) -> str:
    """CancelTrip's reason: optional text."""
    return shared.text("reason", reason, required=False)


def list_customer(customer_id: str) -> str:
    """ListTrips' customer filter: optional, an id (checked before it reaches a visibility query)."""
    return shared.identifier("customer_id", customer_id, required=False)

"""BookTrip input checks: every field is checked before any workflow starts.

Each refusal is an InvalidArgument naming the field with its proto path (`flight.date`,
`hotel.check_out`), so a client can point at the exact input to fix.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from tripbooking.trip.v1 import trip_pb2

from booking_runtime.errors import InvalidArgument
from booking_runtime.validation import HORIZON_DAYS, MAX_TEXT_LENGTH
from orchestrator.models import CabSpec, FlightSpec, HotelSpec, TripRequest

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# The booking services' own limits, checked here too: a request they would refuse as
# INVALID_ARGUMENT must be refused before a trip starts, not after its flight is booked.
MAX_TEXT = MAX_TEXT_LENGTH
MAX_UNITS = 9
MAX_NIGHTS = 30


def parse_book_request(request: trip_pb2.BookTripRequest, today: date) -> TripRequest:
    """The validated request; `today` (UTC) is the earliest date a trip may use."""
    if not REQUEST_ID.fullmatch(request.request_id):
        raise InvalidArgument(
            "request_id", "required: 1 to 128 characters of letters, digits, '.', '_', ':' and '-'"
        )
    customer_id = _text(request.customer_id, "customer_id")
    for part in ("flight", "hotel", "cab"):
        if not request.HasField(part):
            raise InvalidArgument(part, "required")
    flight, hotel, cab = request.flight, request.hotel, request.cab

    flight_date = _date(flight.date, "flight.date", today)
    check_in = _date(hotel.check_in, "hotel.check_in", today)
    check_out = _date(hotel.check_out, "hotel.check_out", today, extra_days=1)
    if check_out <= check_in:
        raise InvalidArgument("hotel.check_out", f"must be after hotel.check_in ({hotel.check_in})")
    if check_out <= flight_date:
        # The trip completes at check-out: it must not end before its flight.
        raise InvalidArgument("hotel.check_out", f"must be after flight.date ({flight.date})")
    if (check_out - check_in).days > MAX_NIGHTS:
        raise InvalidArgument("hotel.check_out", f"a stay is at most {MAX_NIGHTS} nights")
    pickup_day = _timestamp(cab.pickup_time, "cab.pickup_time").astimezone(UTC).date()
    if pickup_day < today:
        raise InvalidArgument("cab.pickup_time", f"{cab.pickup_time!r} is in the past")
    if pickup_day > today + timedelta(days=HORIZON_DAYS):
        raise InvalidArgument("cab.pickup_time", f"{cab.pickup_time!r} is over {HORIZON_DAYS} days ahead")
    return TripRequest(
        request_id=request.request_id,
        customer_id=customer_id,
        flight=FlightSpec(
            flight_number=_text(flight.flight_number, "flight.flight_number"),
            date=flight_date.isoformat(),
            seats=_units(flight.seats, "flight.seats"),
        ),
        hotel=HotelSpec(
            hotel_id=_text(hotel.hotel_id, "hotel.hotel_id"),
            check_in=check_in.isoformat(),
            check_out=check_out.isoformat(),
            rooms=_units(hotel.rooms, "hotel.rooms"),
        ),
        cab=CabSpec(
            city=_text(cab.city, "cab.city"),
            pickup_time=cab.pickup_time,
            pickup_address=_text(cab.pickup_address, "cab.pickup_address"),
            dropoff_address=_text(cab.dropoff_address, "cab.dropoff_address"),
        ),
    )


def require_trip_id(trip_id: str) -> str:
    if not trip_id:
        raise InvalidArgument("trip_id", "required")
    if len(trip_id) > 200:
        raise InvalidArgument("trip_id", "too long")
    return trip_id


def _text(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidArgument(field, "required")
    if len(value) > MAX_TEXT:
        raise InvalidArgument(field, f"at most {MAX_TEXT} characters")
    return value


def _units(value: int, field: str) -> int:
    if not 1 <= value <= MAX_UNITS:
        raise InvalidArgument(field, f"must be 1 to {MAX_UNITS}, got {value}")
    return value


def _date(value: str, field: str, today: date, extra_days: int = 0) -> date:
    """A YYYY-MM-DD date from `today` to HORIZON_DAYS (+ extra_days) ahead, as the services take."""
    if not value:
        raise InvalidArgument(field, "required (YYYY-MM-DD)")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(field, f"{value!r} is not a YYYY-MM-DD date") from None
    if len(value) != 10:
        raise InvalidArgument(field, f"{value!r} is not a YYYY-MM-DD date")
    if parsed < today:
        raise InvalidArgument(field, f"{value} is in the past")
    if parsed > today + timedelta(days=HORIZON_DAYS + extra_days):
        raise InvalidArgument(field, f"{value} is more than {HORIZON_DAYS} days ahead")
    return parsed


def _timestamp(value: str, field: str) -> datetime:
    if not value:
        raise InvalidArgument(field, "required (RFC 3339, e.g. 2027-03-01T18:00:00Z)")
    if not RFC3339.fullmatch(value):
        raise InvalidArgument(field, f"{value!r} is not an RFC 3339 time with a UTC offset")
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise InvalidArgument(field, f"{value!r} is not a valid time") from None

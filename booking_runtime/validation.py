"""Input checks every server needs (the booking services and the TripService API alike).

Each failure is INVALID_ARGUMENT naming the field, and no message repeats more than a short,
clipped piece of what was sent (`errors.shown`). The rules are the contract's ("What a client can
act on" in DESIGN.md): dates exactly `YYYY-MM-DD` on the calendar, times exactly RFC 3339 with an
offset, text without control characters, ids of at most 128 characters and other text of at most 200.

Bookable dates run from today (UTC) to `HORIZON_DAYS` ahead, so inventory rows can be created
lazily for any of them instead of seeding a year of rows up front.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

from booking_runtime.errors import InvalidArgument, shown

HORIZON_DAYS = 365
MAX_ID_LENGTH = 128  # request_id, customer_id, idempotency_key, trip_id, flight numbers, hotel ids
MAX_TEXT_LENGTH = 200  # names, cities, addresses, reasons
MAX_KEY_LENGTH = MAX_ID_LENGTH
# A hotel stay: the hotel service and BookTrip (which checks before any step is booked) refuse longer.
MAX_NIGHTS = 30

# C0 controls, DEL and C1 controls (Unicode category Cc).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# ASCII digits only: `\d` would also take other scripts' digits.
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_DATE_HINT = "must be a date as YYYY-MM-DD"
_TIME_HINT = "must be an RFC 3339 time with an offset, like 2026-05-01T09:30:00Z or 2026-05-01T10:30:00+01:00"


def today() -> date:
    return datetime.now(UTC).date()


_today = today  # for bookable_date, whose `today` parameter shadows the function


def text(field: str, value: str, *, max_length: int = MAX_TEXT_LENGTH, required: bool = True) -> str:
    """Text of at most `max_length` characters without control characters; blank only if not required."""
    if len(value) > max_length:
        raise InvalidArgument(field, f"must be at most {max_length} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise InvalidArgument(field, "must not contain control characters")
    if required and not value.strip():
        raise InvalidArgument(field, "is required")
    return value


def identifier(field: str, value: str, *, required: bool = True) -> str:
    """An id (customer, trip, flight number, hotel, idempotency key): text of at most 128 characters."""
    return text(field, value, max_length=MAX_ID_LENGTH, required=required)


def idempotency_key(value: str) -> str:
    return identifier("idempotency_key", value)


def required_text(field: str, value: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    return text(field, value, max_length=max_length)


def count(field: str, value: int, low: int = 1, high: int = 9) -> int:
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}, got {value}")
    return value


def parse_date(field: str, value: str) -> date:
    """A calendar date written exactly as YYYY-MM-DD (no week or ordinal dates, no other digits)."""
    match = _DATE.fullmatch(value) if len(value) == 10 else None
    if match is None:
        raise InvalidArgument(field, f"{_DATE_HINT}, got {shown(value)}")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise InvalidArgument(field, f"{value} is not a date on the calendar") from None


def parse_timestamp(field: str, value: str) -> datetime:
    """An RFC 3339 date-time with an offset (`Z`, `z`, `+hh:mm`, `-hh:mm`), returned in UTC.

    `T` and `Z` may be lower case and fractions of any length are taken (to the microsecond);
    a leap second (`:60`) is the next second. Nothing else is a time here.
    """
    match = _TIMESTAMP.fullmatch(value) if len(value) <= 40 else None
    if match is None:
        raise InvalidArgument(field, f"{_TIME_HINT}, got {shown(value)}")
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = match.groups()
    leap = second == "60"
    try:
        if int(off_hours or 0) > 23 or int(off_minutes or 0) > 59:
            raise ValueError("offset")
        offset = timedelta(hours=int(off_hours or 0), minutes=int(off_minutes or 0))
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            59 if leap else int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:
        raise InvalidArgument(field, f"{_TIME_HINT}, got {shown(value)}") from None
    return (moment + timedelta(seconds=1) if leap else moment).astimezone(UTC)


def bookable_date(field: str, value: str, *, extra_days: int = 0, today: date | None = None) -> date:
    """A YYYY-MM-DD date from today (UTC; or the `today` given) up to HORIZON_DAYS (+ extra_days) ahead."""
    day = parse_date(field, value)
    first = today or _today()
    last = first + timedelta(days=HORIZON_DAYS + extra_days)
    if day < first:
        raise InvalidArgument(field, f"{value} is in the past (today is {first.isoformat()} UTC)")
    if day > last:
        raise InvalidArgument(field, f"{value} is more than {HORIZON_DAYS} days ahead")
    return day


def bookable_pickup(field: str, value: str, *, now: datetime | None = None) -> datetime:
    """An RFC 3339 pickup time, in UTC, from the start of the current hour up to HORIZON_DAYS ahead.

    Pickups are counted per UTC hour, so one later in the current hour is still bookable.
    """
    pickup = parse_timestamp(field, value)
    current = (now or datetime.now(UTC)).astimezone(UTC)
    if pickup < current.replace(minute=0, second=0, microsecond=0):
        raise InvalidArgument(field, f"{value} is in the past")
    if pickup.date() > current.date() + timedelta(days=HORIZON_DAYS):
        raise InvalidArgument(field, f"{value} is more than {HORIZON_DAYS} days ahead")
    return pickup


def rfc3339(moment: datetime) -> str:
    """UTC, second precision, with a Z: the form every reply uses."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

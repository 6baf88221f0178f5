"""Input checks every booking service needs; each failure is INVALID_ARGUMENT naming the field.

Bookable dates run from today (UTC) to `HORIZON_DAYS` ahead, so inventory rows can be created
lazily for any of them instead of seeding a year of rows up front.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from booking_runtime.errors import InvalidArgument

HORIZON_DAYS = 365
MAX_KEY_LENGTH = 200
MAX_TEXT_LENGTH = 200


def today() -> date:
    return datetime.now(UTC).date()


_today = today  # for bookable_date, whose `today` parameter shadows the function


def idempotency_key(value: str) -> str:
    if not value:
        raise InvalidArgument("idempotency_key", "is required")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidArgument("idempotency_key", f"must be at most {MAX_KEY_LENGTH} characters")
    return value


def required_text(field: str, value: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    if not value.strip():
        raise InvalidArgument(field, "is required")
    if len(value) > max_length:
        raise InvalidArgument(field, f"must be at most {max_length} characters")
    return value


def count(field: str, value: int, low: int = 1, high: int = 9) -> int:
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}, got {value}")
    return value


def parse_date(field: str, value: str) -> date:
    """A YYYY-MM-DD date."""
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(field, f"must be a date as YYYY-MM-DD, got {value!r}") from None


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


def parse_timestamp(field: str, value: str) -> datetime:
    """An RFC 3339 timestamp with an offset ("Z" or "+01:00"), returned in UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            field, f"must be an RFC 3339 time like 2026-05-01T09:30:00Z, got {value!r}"
        ) from None
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise InvalidArgument(field, f"must be an RFC 3339 time with an offset (Z or +hh:mm), got {value!r}")
    return parsed.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """UTC, second precision, with a Z: the form every reply uses."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

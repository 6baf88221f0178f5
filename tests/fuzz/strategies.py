"""Hypothesis strategies for every request field of the four servers: valid values, values near each
limit, hostile text (control characters, quotes, huge strings) and look-alikes of dates and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

# Days from today (UTC) where the direct bookings of the fuzz land, and where its trips land: apart,
# so that what each holds can be checked alone. Nothing else books on a fuzz stack.
DIRECT_DAYS = range(330, 333)
TRIP_DAYS = range(345, 348)


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


HOSTILE = [
    "", " ", "\t", "x" * 128, "x" * 129, "y" * 200, "y" * 201, "ü" * 3000, "😀" * 64, "a\x00b", "line\nbreak",
    "\x1b[31m", "\u0085", "\u202e", "'; DROP TABLE bookings; --", "' OR '1'='1", "\\", "%s%n", "trip-",
    "trip-" + "r" * 200, "TripCustomerId = 'x'", "${jndi:ldap://x}", "\ufeff", "null",
]  # fmt: skip
HUGE = "z" * 100_000

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=24),
    st.text(min_size=120, max_size=260),
    st.just(HUGE),
)


def text_or(valid: list[str]) -> st.SearchStrategy[str]:
    """Mostly values a server accepts, else anything hostile."""
    return st.one_of(st.sampled_from(valid), hostile_text)


def dates(valid: list[str]) -> st.SearchStrategy[str]:
    look_alikes = st.sampled_from(
        ["2027-W02-6", "2027-016", "20270116", "2027-1-16", "2027-02-30", "2027-13-01", "0000-01-01",
         "9999-12-31", f"{valid[0]}\x00", f"{valid[0]} ", f"{valid[0]}T00:00:00Z",
         "\uff12\uff10\uff12\uff17-01-16"]
    )  # fmt: skip
    return st.one_of(
        st.sampled_from(valid), st.dates().map(lambda d: d.isoformat()), look_alikes, hostile_text
    )


def pickup_times(days: list[str]) -> st.SearchStrategy[str]:
    valid = [f"{d}{t}" for d in days for t in ("T10:00:00Z", "t10:30:00.5z", "T11:15:00+01:00")]
    first = days[0]
    look_alikes = st.sampled_from(
        [f"{first}T14:00:00Z\x00", f"{first}T14Z", f"{first}T14:00Z", first.replace("-", "") + "T140000Z",
         f"{first}T14:00:00+0530", f"{first}T14:00:00+05:60", f"{first}T14:00:00", f"{first} 14:00:00Z",
         f"{first}T24:00:00Z", f"{first}T14:00:00,5Z", f"{first}T14:00:00.Z", "2027-W02-6T10:00:00Z"]
    )  # fmt: skip
    return st.one_of(st.sampled_from(valid), look_alikes, hostile_text)


def counts() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 10), st.integers(-(2**31), 2**31 - 1))


def keys() -> st.SearchStrategy[str]:
    """Idempotency keys: fresh, reused from a small pool (ALREADY_EXISTS, tombstones), or hostile."""
    fresh = st.uuids().map(lambda u: f"fz-{u.hex[:12]}")
    return st.one_of(fresh, st.sampled_from(["fz-1", "fz-2", "fz-3"]), hostile_text)


raw_bytes = st.one_of(st.binary(max_size=300), st.just(b"\xff" * 20_000), st.just(b""))

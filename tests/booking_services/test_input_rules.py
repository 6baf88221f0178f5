"""The input rules every server shares (booking_runtime.validation and errors), as plain functions.

Dates are exactly YYYY-MM-DD, times exactly RFC 3339 with an offset, text is UTF-8 without control
characters and of bounded length, and no refusal echoes unbounded input.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from google.rpc import error_details_pb2, status_pb2

from booking_runtime import validation
from booking_runtime.errors import MAX_DETAIL_CHARS, MAX_MESSAGE_CHARS, InvalidArgument, NotFound, to_status


def refusal(call: object, *args: object, **kwargs: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


@pytest.mark.parametrize(
    "text",
    [
        "2027-W02-6",  # ISO week date (10 characters, taken by date.fromisoformat)
        "2027-016",  # ordinal date
        "20270116",
        "2027-1-16",
        "2027-01-16 ",
        "2027-01-16\n",
        "2027-01-16\x00",
        "\uff12\uff10\uff12\uff17-01-16",  # full-width digits are digits to str.isdigit
        "2027-02-30",
        "2027-13-01",
        "",
    ],
)
def test_a_date_is_exactly_yyyy_mm_dd_on_the_calendar(text: str) -> None:
    error = refusal(validation.parse_date, "date", text)
    assert error.field == "date" and error.message.startswith("date: ")


def test_a_calendar_date_parses() -> None:
    assert validation.parse_date("date", "2028-02-29") == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2027-01-04T10:00:00Z", datetime(2027, 1, 4, 10, tzinfo=UTC)),
        ("2027-01-04t10:00:00z", datetime(2027, 1, 4, 10, tzinfo=UTC)),
        ("2027-01-04T10:00:00.123456789+05:30", datetime(2027, 1, 4, 4, 30, 0, 123456, tzinfo=UTC)),
        ("2027-01-04T10:00:00-00:00", datetime(2027, 1, 4, 10, tzinfo=UTC)),
        ("2027-01-04T00:30:00+23:59", datetime(2027, 1, 3, 0, 31, tzinfo=UTC)),
        ("2027-12-31T23:59:60Z", datetime(2028, 1, 1, tzinfo=UTC)),  # a leap second
    ],
)
def test_rfc3339_times_with_an_offset_parse_to_utc(text: str, utc: datetime) -> None:
    assert validation.parse_timestamp("t", text) == utc


@pytest.mark.parametrize(
    "text",
    [
        "2027-01-02T14:00:00Z\x00",
        "2027-01-02T14Z",
        "2027-01-02T14:00Z",
        "20270102T140000Z",
        "2027-01-02T14:00:00+0530",
        "2027-01-02T14:00:00+05:60",
        "2027-01-02T14:00:00+24:00",
        "2027-01-02T14:00:00",
        "2027-01-02 14:00:00Z",
        "2027-01-02T24:00:00Z",
        "2027-01-02T14:60:00Z",
        "2027-01-02T14:00:61Z",
        "2027-01-02T14:00:00.Z",
        "2027-01-02T14:00:00,5Z",
        "2027-W01-6T14:00:00Z",
        "2027-02-30T14:00:00Z",
        "\uff12\uff10\uff12\uff17-01-02T14:00:00Z",
        "2027-01-02T14:00:00Z ",
        "",
    ],
)
def test_anything_but_an_rfc3339_time_with_an_offset_is_refused(text: str) -> None:
    error = refusal(validation.parse_timestamp, "pickup_time", text)
    assert error.field == "pickup_time"


@pytest.mark.parametrize(
    ("value", "limit"),
    [("x" * 129, "identifier"), ("a\x00b", "identifier"), ("a\x7fb", "identifier"),
     ("a\u0085b", "identifier"), ("tab\there", "text"), ("x" * 201, "text"), ("line\nbreak", "text")],
)  # fmt: skip
def test_text_is_bounded_and_free_of_control_characters(value: str, limit: str) -> None:
    check = validation.identifier if limit == "identifier" else validation.text
    error = refusal(check, "customer_id", value)
    assert error.field == "customer_id"


def test_text_limits_are_inclusive_and_unicode_is_welcome() -> None:
    assert validation.identifier("customer_id", "é" * 128) == "é" * 128
    assert validation.text("cab.pickup_address", "Rua São Tomé 1, Lisboa 😀" + "x" * 175)
    assert validation.text("reason", "", required=False) == ""
    assert refusal(validation.text, "reason", " ").field == "reason"


def test_no_refusal_echoes_unbounded_input() -> None:
    huge = "ü" * 2000
    for call in (
        lambda: validation.parse_date("date", huge),
        lambda: validation.parse_timestamp("pickup_time", huge),
        lambda: validation.bookable_date("date", huge),
        lambda: validation.identifier("customer_id", huge),
    ):
        with pytest.raises(InvalidArgument) as caught:
            call()
        assert len(caught.value.message) < 200, caught.value.message
    # Whatever a ServiceError holds, the status a client gets stays small.
    status = to_status(NotFound("no flight " + huge, metadata={"flight_number": huge}), "flight.tripbooking")
    assert len(status.details) <= MAX_MESSAGE_CHARS + 3
    decoded = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])
    assert decoded.ByteSize() < 2048
    info = error_details_pb2.ErrorInfo()
    decoded.details[0].Unpack(info)
    assert all(len(v) <= MAX_DETAIL_CHARS for v in info.metadata.values())

"""BookTrip validation and the retry table, as plain functions (no servers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc
import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.trip.v1 import trip_pb2

from booking_runtime.errors import InvalidArgument
from booking_runtime.temporal_outcomes import temporal_error
from booking_runtime.validation import bookable_date
from orchestrator import retry
from orchestrator.models import TripStatus, step_key, trip_id_for
from orchestrator.trip_list import list_query
from orchestrator.validation import MAX_REQUEST_ID_LENGTH, parse_book_request

NOW = datetime(2027, 1, 10, 14, 25, tzinfo=UTC)
TODAY = NOW.date()


def valid() -> trip_pb2.BookTripRequest:
    return trip_pb2.BookTripRequest(
        request_id="r-1:a_b.c",
        customer_id="alice",
        flight=trip_pb2.FlightRequest(flight_number="TB101", date="2027-03-01", seats=2),
        hotel=trip_pb2.HotelRequest(
            hotel_id="lis-alfama-lodge", check_in="2027-03-01", check_out="2027-03-04", rooms=1
        ),
        cab=trip_pb2.CabRequest(
            city="Lisbon",
            pickup_time="2027-03-01T18:00:00+01:00",
            pickup_address="Airport",
            dropoff_address="Alfama",
        ),
    )


def test_a_valid_request_becomes_a_trip_request_with_a_stable_fingerprint() -> None:
    request = parse_book_request(valid(), NOW)
    assert request.flight.seats == 2 and request.hotel.check_out == "2027-03-04"
    assert request.fingerprint() == parse_book_request(valid(), NOW).fingerprint()
    other = valid()
    other.hotel.rooms = 2
    assert parse_book_request(other, NOW).fingerprint() != request.fingerprint()


def _set(path: str, value: object) -> Callable[[trip_pb2.BookTripRequest], None]:
    def mutate(request: trip_pb2.BookTripRequest) -> None:
        *parents, name = path.split(".")
        target = request
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)

    return mutate


@pytest.mark.parametrize(
    ("field", "mutate"),
    [
        ("request_id", _set("request_id", "has space")),
        ("request_id", _set("request_id", "x" * 129)),
        ("customer_id", _set("customer_id", "  ")),
        ("flight.flight_number", _set("flight.flight_number", "")),
        ("flight.date", _set("flight.date", "2027-3-1")),
        ("flight.date", _set("flight.date", "2027-01-09")),
        ("flight.seats", _set("flight.seats", 0)),
        ("hotel.check_in", _set("hotel.check_in", "someday")),
        ("hotel.check_out", _set("hotel.check_out", "2027-02-28")),
        ("hotel.rooms", _set("hotel.rooms", 10)),
        ("cab.pickup_time", _set("cab.pickup_time", "2027-03-01T18:00:00")),
        ("cab.pickup_time", _set("cab.pickup_time", "2027-01-01T18:00:00Z")),
        ("cab.dropoff_address", _set("cab.dropoff_address", "")),
        ("cab.pickup_address", _set("cab.pickup_address", "x" * 201)),
        ("flight.date", _set("flight.date", "2028-01-11")),
        ("hotel.check_out", _set("flight.date", "2027-03-04")),
        ("hotel.check_out", _set("hotel.check_out", "2027-04-01")),
        ("cab.pickup_time", _set("cab.pickup_time", "2028-01-12T10:00:00Z")),
        # Today, but an hour that has passed: the cab service would refuse it after flight and hotel.
        ("cab.pickup_time", _set("cab.pickup_time", "2027-01-10T13:59:00Z")),
        ("cab.pickup_time", _set("cab.pickup_time", "2027-01-10T14:30:00+01:00")),
        ("cab", lambda r: r.ClearField("cab")),
    ],
)
def test_bad_input_names_the_field(field: str, mutate: Callable[[trip_pb2.BookTripRequest], None]) -> None:
    request = valid()
    mutate(request)
    with pytest.raises(InvalidArgument) as caught:
        parse_book_request(request, NOW)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_pickup_later_in_the_current_hour_is_accepted_as_the_cab_service_does() -> None:
    # The cab service counts its fleet per UTC hour and takes any pickup from the current hour on.
    request = valid()
    for pickup in ("2027-01-10T14:00:00Z", "2027-01-10T14:05:00Z", "2027-01-10T15:30:00+01:00"):
        request.cab.pickup_time = pickup
        assert parse_book_request(request, NOW).cab.pickup_time == pickup


def test_dates_are_checked_against_the_given_today_with_the_services_rules() -> None:
    assert bookable_date("flight.date", "2027-01-10", today=TODAY) == TODAY
    with pytest.raises(InvalidArgument, match=r"^flight\.date: 2027-01-09 is in the past"):
        bookable_date("flight.date", "2027-01-09", today=TODAY)
    # The check-out may fall one day past the horizon; nothing else may.
    assert bookable_date("hotel.check_out", "2028-01-11", extra_days=1, today=TODAY)
    with pytest.raises(InvalidArgument, match="more than 365 days ahead"):
        bookable_date("flight.date", "2028-01-11", today=TODAY)


def test_retry_table_matches_the_design() -> None:
    for code in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL", "UNKNOWN"):
        assert retry.judge(code) == retry.Verdict(retryable=True, certainly_unbooked=False)
    for code in ("FAILED_PRECONDITION", "NOT_FOUND", "INVALID_ARGUMENT", "ALREADY_EXISTS"):
        assert retry.judge(code) == retry.Verdict(retryable=False, certainly_unbooked=True)
    assert retry.judge(retry.TIMEOUT).retryable
    assert [retry.backoff_seconds(n) for n in range(8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]


def test_list_query_quotes_its_values() -> None:
    assert list_query("", None) == "WorkflowType = 'TripWorkflow'"
    assert list_query("o'hara", TripStatus.FAILED) == (
        "WorkflowType = 'TripWorkflow' AND TripCustomerId = 'o\\'hara' AND TripStatus = 'TRIP_STATUS_FAILED'"
    )


def test_a_temporal_call_of_unknown_outcome_is_unavailable_and_a_refusal_internal() -> None:
    error = temporal_error(RPCError("frontend down", RPCStatusCode.UNAVAILABLE, b""))
    assert error is not None and error.code == grpc.StatusCode.UNAVAILABLE
    assert error.reason == "TEMPORAL_UNAVAILABLE" and "frontend down" in error.message
    # A dropped connection ("transport error"), deadlines and cancelled RPCs: the call may have acted.
    for status in ("UNKNOWN", "DEADLINE_EXCEEDED", "CANCELLED", "INTERNAL", "RESOURCE_EXHAUSTED"):
        error = temporal_error(RPCError("transport error", RPCStatusCode[status], b""))
        assert error is not None and error.code == grpc.StatusCode.UNAVAILABLE, status
    error = temporal_error(WorkflowUpdateRPCTimeoutOrCancelledError())
    assert error is not None and error.code == grpc.StatusCode.UNAVAILABLE
    error = temporal_error(RPCError("no such namespace", RPCStatusCode.PERMISSION_DENIED, b""))
    assert error is not None and error.code == grpc.StatusCode.INTERNAL
    assert temporal_error(ValueError("not Temporal's")) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("request_id", "r" * 117), ("customer_id", "c" * 129), ("customer_id", "bad\u0000id"),
     ("cab.city", "x" * 201), ("cab.pickup_time", "2027-03-01T18Z"), ("flight.date", "2027-W09-1")],
)  # fmt: skip
def test_ids_text_dates_and_times_follow_the_shared_rules(field: str, value: str) -> None:
    request = valid()
    _set(field, value)(request)
    with pytest.raises(InvalidArgument) as caught:
        parse_book_request(request, NOW)
    assert caught.value.field == field


def test_the_longest_request_id_keeps_trip_id_and_step_keys_within_128_characters() -> None:
    request = valid()
    request.request_id = "r" * MAX_REQUEST_ID_LENGTH
    trip = parse_book_request(request, NOW)
    trip_id = trip_id_for(trip.request_id)
    assert len(trip_id) <= 128
    assert all(len(step_key(trip_id, step)) <= 128 for step in ("flight", "hotel", "cab"))

"""Unit tests of the three domains' validation, lookups and pricing (no server, no database)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from booking_runtime.app import BookingServiceDef
from booking_runtime.catalog import read_catalog_file
from booking_runtime.errors import InvalidArgument, NotFound, ServiceError
from cab_svc.__main__ import DEFINITION as CAB
from cab_svc.domain import CabDomain
from flight_svc.__main__ import DEFINITION as FLIGHT
from flight_svc.domain import FlightDomain
from hotel_svc.__main__ import DEFINITION as HOTEL
from hotel_svc.domain import HotelDomain
from tests.booking_services.stack import day


def catalog(definition: BookingServiceDef) -> dict[str, dict[str, Any]]:
    """The service's catalog file read as the service reads it, by its key."""
    items = read_catalog_file(definition.catalog_file, definition.catalog_key)
    return {item[definition.catalog_key]: item for item in items}


FLIGHTS = FlightDomain(catalog(FLIGHT))
HOTELS = HotelDomain(catalog(HOTEL))
CABS = CabDomain(catalog(CAB))


def refused(call: Callable[[], object]) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


def test_catalogs_are_big_enough_for_demos_and_benchmarks() -> None:
    assert len(FLIGHTS.flights) >= 30
    assert all(150 <= f.seats <= 300 for f in FLIGHTS.flights.values())
    cities = {f.origin for f in FLIGHTS.flights.values()}
    assert len(cities) == 10
    assert len(HOTELS.hotels) >= 25 and HOTELS.hotels["lis-tiny-inn"].rooms == 2
    assert all(20 <= h.rooms <= 200 for h in HOTELS.hotels.values() if h.hotel_id != "lis-tiny-inn")
    assert len({h.city for h in HOTELS.hotels.values()}) == 10
    assert all(20 <= f.cabs_per_hour <= 100 for f in CABS.fleets.values()) and len(CABS.fleets) == 10


def test_flight_booking_request_takes_seats_on_the_flight_and_date() -> None:
    request = FLIGHTS.booking_request("k", "c", "tb101", day(3), 2)
    assert request.details == {"flight_number": "TB101", "date": day(3), "seats": 2}
    assert [(u.resource, u.slot, u.quantity, u.capacity) for u in request.units] == [
        ("TB101", day(3), 2, 200)
    ]
    assert request.price_cents == 2 * FLIGHTS.flights["TB101"].price_cents


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "c", "TB101", day(3), 1), "idempotency_key"),
        (("k" * 129, "c", "TB101", day(3), 1), "idempotency_key"),
        (("k", " ", "TB101", day(3), 1), "customer_id"),
        (("k", "c", "", day(3), 1), "flight_number"),
        (("k", "c", "TB101", day(3), 0), "seats"),
        (("k", "c", "TB101", day(3), 10), "seats"),
        (("k", "c", "TB101", day(-1), 1), "date"),
        (("k", "c", "TB101", day(366), 1), "date"),
        (("k", "c", "TB101", "2026-02-30", 1), "date"),
        (("k", "c", "TB101", "2026-1-5", 1), "date"),
    ],
)
def test_flight_bad_input_names_the_field(args: tuple[Any, ...], field: str) -> None:
    error = refused(lambda: FLIGHTS.booking_request(*args))
    assert (
        isinstance(error, InvalidArgument) and error.field == field and error.message.startswith(f"{field}: ")
    )


def test_flight_limits_are_inclusive_and_unknown_flights_are_not_found() -> None:
    FLIGHTS.booking_request("k" * 128, "c", "TB101", day(365), 9)
    FLIGHTS.booking_request("k", "c", "TB101", day(0), 1)
    assert isinstance(refused(lambda: FLIGHTS.booking_request("k", "c", "TB999", day(3), 1)), NotFound)


def test_flight_search_filters_and_defaults_to_today() -> None:
    found, when = FLIGHTS.search("lis", "", "")
    assert when.isoformat() == day(0) and found and all(f.origin == "LIS" for f in found)
    assert [f.departure for f in found] == sorted(f.departure for f in found)
    assert len(FLIGHTS.search("", "", day(10))[0]) == len(FLIGHTS.flights)


def test_hotel_stay_takes_every_night_but_not_the_check_out_day() -> None:
    request = HOTELS.booking_request("k", "c", "lis-tiny-inn", day(5), day(8), 2)
    assert [u.slot for u in request.units] == [day(5), day(6), day(7)]
    assert request.price_cents == 3 * 2 * HOTELS.hotels["lis-tiny-inn"].price_cents


@pytest.mark.parametrize(
    ("check_in", "check_out", "rooms", "field"),
    [
        (day(5), day(5), 1, "check_out"),
        (day(5), day(4), 1, "check_out"),
        (day(5), day(36), 1, "check_out"),
        (day(-1), day(2), 1, "check_in"),
        ("soon", day(2), 1, "check_in"),
        (day(5), day(6), 0, "rooms"),
        (day(5), day(6), 10, "rooms"),
    ],
)
def test_hotel_bad_input_names_the_field(check_in: str, check_out: str, rooms: int, field: str) -> None:
    error = refused(lambda: HOTELS.booking_request("k", "c", "lis-tiny-inn", check_in, check_out, rooms))
    assert isinstance(error, InvalidArgument) and error.field == field


def test_hotel_thirty_nights_is_the_longest_stay_and_search_defaults_to_one_night() -> None:
    assert len(HOTELS.booking_request("k", "c", "lis-tiny-inn", day(5), day(35), 1).units) == 30
    hotels, stay = HOTELS.search("LISBON", "", "")
    assert stay.nights == [day(0)] and {h.city for h in hotels} == {"Lisbon"}
    assert isinstance(refused(lambda: HOTELS.booking_request("k", "c", "nope", day(5), day(6), 1)), NotFound)


def test_cab_pickup_is_stored_in_utc_and_counted_in_its_hour() -> None:
    request = CABS.booking_request("k", "c", "lisbon", f"{day(4)}T00:30:00+02:00", "a", "b")
    assert request.details["pickup_time"] == f"{day(3)}T22:30:00Z"
    assert request.details["city"] == "Lisbon"
    assert [(u.resource, u.slot, u.quantity) for u in request.units] == [("Lisbon", f"{day(3)}T22", 1)]


@pytest.mark.parametrize(
    ("pickup", "field"),
    [
        ("", "pickup_time"),
        ("2026-05-01 09:00", "pickup_time"),
        (f"{day(3)}T09:00:00", "pickup_time"),
        ((datetime.now(UTC) - timedelta(hours=2)).isoformat(), "pickup_time"),
        (f"{day(367)}T09:00:00Z", "pickup_time"),
    ],
)
def test_cab_bad_pickup_time_is_invalid(pickup: str, field: str) -> None:
    error = refused(lambda: CABS.booking_request("k", "c", "Lisbon", pickup, "a", "b"))
    assert isinstance(error, InvalidArgument) and error.field == field


def test_cab_unknown_city_is_not_found_and_addresses_are_required() -> None:
    assert isinstance(refused(lambda: CABS.search("Atlantis", "")), NotFound)
    error = refused(lambda: CABS.booking_request("k", "c", "Lisbon", f"{day(3)}T09:00:00Z", "a", ""))
    assert isinstance(error, InvalidArgument) and error.field == "dropoff_address"

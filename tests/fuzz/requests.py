"""Requests for every RPC of the four servers: a valid base with 0 to 3 fields swapped for hostile
values, so each field is tried alone and in company, and the valid path is walked too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from tripbooking.cab.v1 import cab_pb2
from tripbooking.flight.v1 import flight_pb2
from tripbooking.hotel.v1 import hotel_pb2
from tripbooking.trip.v1 import trip_pb2

from tests.fuzz.strategies import (
    DIRECT_DAYS,
    TRIP_DAYS,
    counts,
    dates,
    day,
    hostile_text,
    keys,
    pickup_times,
    text_or,
)

Field = tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]  # (valid, hostile)


@dataclass(frozen=True)
class Rpc:
    server: str  # flight, hotel, cab, trip
    method: str
    message: type[Message]
    fields: Callable[[st.DataObject], dict[str, Field]]  # field path -> strategies (may draw a base)
    stream: bool = False

    @property
    def path(self) -> str:
        service = {"flight": "flight.v1.FlightService", "hotel": "hotel.v1.HotelService",
                   "cab": "cab.v1.CabService", "trip": "trip.v1.TripService"}[self.server]  # fmt: skip
        return f"/tripbooking.{service}/{self.method}"


def build(rpc: Rpc, data: st.DataObject) -> tuple[Message, set[str]]:
    """A request of `rpc`: valid values, except for the (returned) fields drawn hostile."""
    fields = rpc.fields(data)
    hostile = data.draw(st.sets(st.sampled_from(sorted(fields)), max_size=3), label="hostile fields")
    request = rpc.message()
    for path in sorted(fields):
        valid, bad = fields[path]
        value = data.draw(bad if path in hostile else valid, label=path)
        *parents, name = path.split(".")
        target: Any = request
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
    return request, hostile


def _stay(data: st.DataObject, days: range) -> tuple[str, str]:
    first = data.draw(st.sampled_from(list(days)), label="day")
    nights = data.draw(st.integers(1, 2), label="nights")
    return day(first), day(first + nights)


def _one_of_days(days: range) -> list[str]:
    return [day(n) for n in days]


def _flight_search(data: st.DataObject) -> dict[str, Field]:
    return {
        "origin": (st.sampled_from(["", "LHR", "lis"]), hostile_text),
        "destination": (st.sampled_from(["", "LIS", "Lisbon"]), hostile_text),
        "date": (st.sampled_from(["", *_one_of_days(DIRECT_DAYS)]), dates(_one_of_days(DIRECT_DAYS))),
    }


def _book_flight(data: st.DataObject) -> dict[str, Field]:
    days = _one_of_days(DIRECT_DAYS)
    return {
        "idempotency_key": (keys(), hostile_text),
        "customer_id": (st.just("fz-cust"), hostile_text),
        "flight_number": (st.sampled_from(["TB101", "TB107", "tb101"]), text_or(["TB999"])),
        "date": (st.sampled_from(days), dates(days)),
        "seats": (st.integers(1, 3), counts()),
    }


def _by_key(data: st.DataObject) -> dict[str, Field]:
    return {"idempotency_key": (keys(), hostile_text)}


def _hotel_search(data: st.DataObject) -> dict[str, Field]:
    check_in, check_out = _stay(data, DIRECT_DAYS)
    return {
        "city": (st.sampled_from(["", "Lisbon", "LISBON"]), hostile_text),
        "check_in": (st.sampled_from(["", check_in]), dates([check_in])),
        "check_out": (st.sampled_from(["", check_out]), dates([check_out])),
    }


def _reserve_hotel(data: st.DataObject) -> dict[str, Field]:
    check_in, check_out = _stay(data, DIRECT_DAYS)
    return {
        "idempotency_key": (keys(), hostile_text),
        "customer_id": (st.just("fz-cust"), hostile_text),
        "hotel_id": (st.sampled_from(["lis-alfama-lodge", "lis-tiny-inn"]), text_or(["nope"])),
        "check_in": (st.just(check_in), dates([check_in])),
        "check_out": (st.just(check_out), dates([check_out])),
        "rooms": (st.integers(1, 2), counts()),
    }


def _cab_search(data: st.DataObject) -> dict[str, Field]:
    days = _one_of_days(DIRECT_DAYS)
    return {
        "city": (st.sampled_from(["Lisbon", "dublin"]), text_or(["Atlantis"])),
        "pickup_time": (st.sampled_from(["", f"{days[0]}T10:00:00Z"]), pickup_times(days)),
    }


def _schedule_cab(data: st.DataObject) -> dict[str, Field]:
    days = _one_of_days(DIRECT_DAYS)
    return {
        "idempotency_key": (keys(), hostile_text),
        "customer_id": (st.just("fz-cust"), hostile_text),
        "city": (st.sampled_from(["Lisbon", "dublin"]), text_or(["Atlantis"])),
        "pickup_time": (st.sampled_from([f"{d}T10:00:00Z" for d in days]), pickup_times(days)),
        "pickup_address": (st.just("Airport"), hostile_text),
        "dropoff_address": (st.just("Rua Augusta 1"), hostile_text),
    }


def _book_trip(data: st.DataObject) -> dict[str, Field]:
    check_in, check_out = _stay(data, TRIP_DAYS)
    request_ids = st.uuids().map(lambda u: f"fz-{u.hex[:16]}")
    return {
        "request_id": (request_ids, st.one_of(st.sampled_from(["fz-reused"]), hostile_text)),
        "customer_id": (st.just("fz-trip"), hostile_text),
        "flight.flight_number": (st.just("TB101"), text_or(["TB999"])),
        "flight.date": (st.just(check_in), dates([check_in])),
        "flight.seats": (st.integers(1, 2), counts()),
        "hotel.hotel_id": (st.just("lis-alfama-lodge"), text_or(["nope"])),
        "hotel.check_in": (st.just(check_in), dates([check_in])),
        "hotel.check_out": (st.just(check_out), dates([check_out])),
        "hotel.rooms": (st.just(1), counts()),
        "cab.city": (st.just("Lisbon"), text_or(["Atlantis"])),
        "cab.pickup_time": (st.just(f"{check_in}T18:00:00Z"), pickup_times([check_in])),
        "cab.pickup_address": (st.just("Airport"), hostile_text),
        "cab.dropoff_address": (st.just("Alfama"), hostile_text),
        "wait_for_outcome": (st.booleans(), st.booleans()),
    }


def _trip_ids() -> Field:
    return (st.sampled_from(["trip-fz-none", "trip-", "fz-none"]), hostile_text)


def _list_trips(data: st.DataObject) -> dict[str, Field]:
    tokens = st.one_of(hostile_text, st.binary(max_size=40).map(lambda b: "p1." + b.hex()))
    return {
        "customer_id": (st.sampled_from(["", "fz-trip"]), hostile_text),
        "status": (st.integers(0, 6), st.integers(-(2**31), 2**31 - 1)),
        "page_size": (st.integers(0, 100), st.integers(-(2**31), 2**31 - 1)),
        "page_token": (st.just(""), tokens),
    }


def _cancel_trip(data: st.DataObject) -> dict[str, Field]:
    return {"trip_id": _trip_ids(), "reason": (st.sampled_from(["", "fuzz"]), hostile_text)}


def _trip_id(data: st.DataObject) -> dict[str, Field]:
    return {"trip_id": _trip_ids()}


RPCS = [
    Rpc("flight", "SearchFlights", flight_pb2.SearchFlightsRequest, _flight_search),
    Rpc("flight", "BookFlight", flight_pb2.BookFlightRequest, _book_flight),
    Rpc("flight", "CancelFlightBooking", flight_pb2.CancelFlightBookingRequest, _by_key),
    Rpc("flight", "GetFlightBooking", flight_pb2.GetFlightBookingRequest, _by_key),
    Rpc("hotel", "SearchHotels", hotel_pb2.SearchHotelsRequest, _hotel_search),
    Rpc("hotel", "ReserveHotel", hotel_pb2.ReserveHotelRequest, _reserve_hotel),
    Rpc("hotel", "CancelHotelReservation", hotel_pb2.CancelHotelReservationRequest, _by_key),
    Rpc("hotel", "GetHotelReservation", hotel_pb2.GetHotelReservationRequest, _by_key),
    Rpc("cab", "SearchCabs", cab_pb2.SearchCabsRequest, _cab_search),
    Rpc("cab", "ScheduleCab", cab_pb2.ScheduleCabRequest, _schedule_cab),
    Rpc("cab", "CancelCab", cab_pb2.CancelCabRequest, _by_key),
    Rpc("cab", "GetCabBooking", cab_pb2.GetCabBookingRequest, _by_key),
    Rpc("trip", "BookTrip", trip_pb2.BookTripRequest, _book_trip),
    Rpc("trip", "GetTrip", trip_pb2.GetTripRequest, _trip_id),
    Rpc("trip", "ListTrips", trip_pb2.ListTripsRequest, _list_trips),
    Rpc("trip", "CancelTrip", trip_pb2.CancelTripRequest, _cancel_trip),
    Rpc("trip", "WatchTrip", trip_pb2.WatchTripRequest, _trip_id, stream=True),
]
# The reply message of each booking call, to read what an accepted one holds.
BOOKING_REPLIES: dict[str, type[Message]] = {
    "BookFlight": flight_pb2.FlightBooking,
    "ReserveHotel": hotel_pb2.HotelReservation,
    "ScheduleCab": cab_pb2.CabBooking,
}


def nights(check_in: str, check_out: str) -> list[str]:
    first, last = date.fromisoformat(check_in), date.fromisoformat(check_out)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days)]

"""The booking services' contract as grpcurl sees it, on SQLite and on PostgreSQL.

One stack per store serves every test here; each test uses its own keys and dates so the
tests do not see each other's inventory.
"""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.booking_services.stack import (
    OK_FLIGHT,
    SERVICES,
    Service,
    Stack,
    cab_request,
    day,
    expect_error,
    flight_request,
    hotel_request,
    key,
    seats_left,
)
from tests.support.reflection_client import json_int, json_list


async def rooms_left(stack: Stack, hotel_id: str, check_in: str, check_out: str) -> int:
    reply = await stack.hotel.call("SearchHotels", {"check_in": check_in, "check_out": check_out})
    return next(int(h["rooms_available"]) for h in json_list(reply, "hotels") if h["hotel_id"] == hotel_id)


async def cabs_left(stack: Stack, city: str, pickup_time: str) -> int:
    reply = await stack.cab.call("SearchCabs", {"city": city, "pickup_time": pickup_time})
    return json_int(reply, "cabs_available")


async def test_reflection_lists_services_and_health_is_serving(stack: Stack) -> None:
    for svc in (stack.flight, stack.hotel, stack.cab):
        listed = await svc.client.list_services()
        assert SERVICES[svc.name] in listed
        assert "grpc.health.v1.Health" in listed
        assert "grpc.reflection.v1alpha.ServerReflection" in listed
        assert svc.channel is not None
        health = health_pb2_grpc.HealthStub(svc.channel)
        for name in ("", SERVICES[svc.name]):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert (await svc.client.call("grpc.health.v1.Health/Check", {}))["status"] == "SERVING"


async def test_describe_shows_the_rpcs(stack: Stack) -> None:
    text = await stack.flight.client.describe(SERVICES["flight"])
    assert "rpc BookFlight ( .tripbooking.flight.v1.BookFlightRequest )" in text
    assert "rpc ScheduleCab" in await stack.cab.client.describe(SERVICES["cab"])
    assert "check_out" in await stack.hotel.client.describe("tripbooking.hotel.v1.ReserveHotelRequest")


async def test_search_returns_the_catalog(stack: Stack) -> None:
    flights = json_list(await stack.flight.call("SearchFlights", {"date": day(40)}), "flights")
    assert len(flights) == 30 and all(150 <= f["seats_available"] <= 300 for f in flights)
    lhr_lis = json_list(
        await stack.flight.call("SearchFlights", {"origin": "LHR", "destination": "LIS"}), "flights"
    )
    assert [f["flight_number"] for f in lhr_lis] == ["TB101"]
    assert lhr_lis[0]["departure_time"].endswith("Z") and lhr_lis[0]["currency"] == "EUR"
    hotels = json_list(await stack.hotel.call("SearchHotels", {}), "hotels")
    assert len(hotels) == 25 and any(
        h["hotel_id"] == "lis-tiny-inn" and h["rooms_available"] == 2 for h in hotels
    )
    lisbon = json_list(await stack.hotel.call("SearchHotels", {"city": "lisbon"}), "hotels")
    assert {h["city"] for h in lisbon} == {"Lisbon"} and len(lisbon) == 3
    cabs = await stack.cab.call("SearchCabs", {"city": "Lisbon", "pickup_time": f"{day(40)}T08:00:00Z"})
    assert cabs["city"] == "Lisbon" and cabs["cabs_available"] == 60 and json_int(cabs, "price_cents") > 0


async def test_same_key_twice_books_once(stack: Stack) -> None:
    date = day(41)
    request = flight_request(date, seats=2)
    first = await stack.flight.call("BookFlight", request)
    again = await stack.flight.call("BookFlight", request)
    assert first == again and first["status"] == "BOOKED" and first["seats"] == 2
    assert await seats_left(stack.flight, OK_FLIGHT, date) == 200 - 2
    got = await stack.flight.call("GetFlightBooking", {"idempotency_key": request["idempotency_key"]})
    assert got["booking_id"] == first["booking_id"]

    stay = hotel_request(day(41), day(44), rooms=3)
    reservation = await stack.hotel.call("ReserveHotel", stay)
    assert reservation == await stack.hotel.call("ReserveHotel", stay)
    assert reservation["price_cents"] == 11900 * 3 * 3

    ride = cab_request(day(41))
    booking = await stack.cab.call("ScheduleCab", ride)
    assert booking == await stack.cab.call("ScheduleCab", ride)
    assert booking["pickup_time"] == f"{day(41)}T09:30:00Z"
    assert await cabs_left(stack, "Lisbon", f"{day(41)}T09:59:00Z") == 60 - 1


async def test_same_key_other_request_is_already_exists(stack: Stack) -> None:
    request = flight_request(day(42), seats=1)
    await stack.flight.call("BookFlight", request)
    await expect_error(
        stack.flight.call("BookFlight", {**request, "seats": 3}),
        grpc.StatusCode.ALREADY_EXISTS,
        reason="ALREADY_EXISTS",
    )
    assert await seats_left(stack.flight, OK_FLIGHT, day(42)) == 200 - 1
    ride = cab_request(day(42))
    await stack.cab.call("ScheduleCab", ride)
    await expect_error(
        stack.cab.call("ScheduleCab", {**ride, "dropoff_address": "elsewhere"}),
        grpc.StatusCode.ALREADY_EXISTS,
    )


async def test_cancel_gives_inventory_back(stack: Stack) -> None:
    check_in, check_out = day(70), day(73)
    stay = hotel_request(check_in, check_out, rooms=4)
    await stack.hotel.call("ReserveHotel", stay)
    assert await rooms_left(stack, "lis-alfama-lodge", check_in, check_out) == 60 - 4
    cancelled = await stack.hotel.call("CancelHotelReservation", {"idempotency_key": stay["idempotency_key"]})
    assert cancelled["status"] == "CANCELLED" and cancelled["rooms"] == 4
    assert await rooms_left(stack, "lis-alfama-lodge", check_in, check_out) == 60
    again = await stack.hotel.call("CancelHotelReservation", {"idempotency_key": stay["idempotency_key"]})
    assert again == cancelled
    assert await rooms_left(stack, "lis-alfama-lodge", check_in, check_out) == 60
    # A retried ReserveHotel after the cancel must not book again.
    await expect_error(
        stack.hotel.call("ReserveHotel", stay),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="ALREADY_CANCELLED",
    )

    request = flight_request(day(43), seats=5)
    await stack.flight.call("BookFlight", request)
    await stack.flight.call("CancelFlightBooking", {"idempotency_key": request["idempotency_key"]})
    assert await seats_left(stack.flight, OK_FLIGHT, day(43)) == 200


async def test_cancel_unknown_key_leaves_a_tombstone(stack: Stack) -> None:
    for svc, method, book, request in (
        (stack.flight, "CancelFlightBooking", "BookFlight", flight_request(day(44))),
        (stack.hotel, "CancelHotelReservation", "ReserveHotel", hotel_request(day(44), day(45))),
        (stack.cab, "CancelCab", "ScheduleCab", cab_request(day(44))),
    ):
        tombstone = await svc.call(method, {"idempotency_key": request["idempotency_key"]})
        assert tombstone["status"] == "CANCELLED"
        await expect_error(
            svc.call(book, request), grpc.StatusCode.FAILED_PRECONDITION, reason="ALREADY_CANCELLED"
        )
        assert await svc.call(method, {"idempotency_key": request["idempotency_key"]}) == tombstone
    assert await seats_left(stack.flight, OK_FLIGHT, day(44)) == 200
    assert await cabs_left(stack, "Lisbon", f"{day(44)}T09:00:00Z") == 60


async def test_overbooking_is_sold_out_and_takes_nothing(stack: Stack) -> None:
    check_in, check_out = day(50), day(53)
    first = hotel_request(check_in, day(51), rooms=1, hotel_id="lis-tiny-inn")
    await stack.hotel.call("ReserveHotel", first)
    too_many = hotel_request(check_in, check_out, rooms=2, hotel_id="lis-tiny-inn")
    error = await expect_error(
        stack.hotel.call("ReserveHotel", too_many), grpc.StatusCode.FAILED_PRECONDITION, reason="SOLD_OUT"
    )
    assert "lis-tiny-inn" in (error.details() or "")
    # Nothing taken on the nights that had room, and the key was not claimed.
    assert await rooms_left(stack, "lis-tiny-inn", day(51), check_out) == 2
    assert await rooms_left(stack, "lis-tiny-inn", check_in, check_out) == 1
    await expect_error(
        stack.hotel.call("GetHotelReservation", {"idempotency_key": too_many["idempotency_key"]}),
        grpc.StatusCode.NOT_FOUND,
    )
    # More rooms than the hotel has at all.
    await expect_error(
        stack.hotel.call("ReserveHotel", hotel_request(day(52), day(53), rooms=3, hotel_id="lis-tiny-inn")),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="SOLD_OUT",
    )
    assert await rooms_left(stack, "lis-tiny-inn", day(52), day(53)) == 2


async def test_a_used_key_wins_over_sold_out(stack: Stack) -> None:
    """The key is checked before inventory, on both stores, even when the request could never fit."""
    check_in, check_out = day(46), day(47)
    # A tombstoned key and more rooms than the tiny inn has: ALREADY_CANCELLED, not SOLD_OUT.
    tombstoned = hotel_request(check_in, check_out, rooms=3, hotel_id="lis-tiny-inn")
    await stack.hotel.call("CancelHotelReservation", {"idempotency_key": tombstoned["idempotency_key"]})
    await expect_error(
        stack.hotel.call("ReserveHotel", tombstoned),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="ALREADY_CANCELLED",
    )
    # A key used for one room, retried for more rooms than the inn has: ALREADY_EXISTS, not SOLD_OUT.
    used = hotel_request(check_in, check_out, rooms=1, hotel_id="lis-tiny-inn")
    await stack.hotel.call("ReserveHotel", used)
    await expect_error(
        stack.hotel.call("ReserveHotel", {**used, "rooms": 3}),
        grpc.StatusCode.ALREADY_EXISTS,
        reason="ALREADY_EXISTS",
    )
    assert await rooms_left(stack, "lis-tiny-inn", check_in, check_out) == 2 - 1
    # A fresh key for more rooms than the inn has is still SOLD_OUT and takes nothing.
    fresh = hotel_request(check_in, check_out, rooms=3, hotel_id="lis-tiny-inn")
    await expect_error(
        stack.hotel.call("ReserveHotel", fresh),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="SOLD_OUT",
    )
    assert await rooms_left(stack, "lis-tiny-inn", check_in, check_out) == 2 - 1


async def test_bad_input_is_invalid_argument_naming_the_field(stack: Stack) -> None:
    date = day(55)
    cases: list[tuple[Service, str, dict[str, object], str]] = [
        (stack.flight, "BookFlight", flight_request(date, seats=0), "seats"),
        (stack.flight, "BookFlight", flight_request(date, seats=10), "seats"),
        (stack.flight, "BookFlight", flight_request(date, idempotency_key=""), "idempotency_key"),
        (stack.flight, "BookFlight", flight_request(date, idempotency_key="x" * 201), "idempotency_key"),
        (stack.flight, "BookFlight", flight_request(date, customer_id=""), "customer_id"),
        (stack.flight, "BookFlight", flight_request("2020-01-01"), "date"),
        (stack.flight, "BookFlight", flight_request(day(400)), "date"),
        (stack.flight, "BookFlight", flight_request("12/01/2026"), "date"),
        (stack.flight, "SearchFlights", {"date": "tomorrow"}, "date"),
        (stack.hotel, "ReserveHotel", hotel_request(date, date), "check_out"),
        (stack.hotel, "ReserveHotel", hotel_request(date, day(55 + 31)), "check_out"),
        (stack.hotel, "ReserveHotel", hotel_request(day(-1), date), "check_in"),
        (stack.hotel, "ReserveHotel", hotel_request(date, day(56), rooms=0), "rooms"),
        (stack.cab, "ScheduleCab", cab_request(date, pickup_time=f"{date}T10:30:00"), "pickup_time"),
        (stack.cab, "ScheduleCab", cab_request(date, pickup_time="soon"), "pickup_time"),
        (stack.cab, "ScheduleCab", cab_request(day(-2)), "pickup_time"),
        (stack.cab, "ScheduleCab", cab_request(date, pickup_address=""), "pickup_address"),
        (stack.cab, "SearchCabs", {"city": ""}, "city"),
        (stack.cab, "CancelCab", {"idempotency_key": ""}, "idempotency_key"),
    ]
    for svc, method, request, field in cases:
        await expect_error(svc.call(method, request), grpc.StatusCode.INVALID_ARGUMENT, field=field)
        if 0 < len(str(request.get("idempotency_key", ""))) <= 200:
            get = {"flight": "GetFlightBooking", "hotel": "GetHotelReservation", "cab": "GetCabBooking"}[
                svc.name
            ]
            await expect_error(
                svc.call(get, {"idempotency_key": request["idempotency_key"]}), grpc.StatusCode.NOT_FOUND
            )
    assert await seats_left(stack.flight, OK_FLIGHT, date) == 200


async def test_unknown_flight_hotel_or_city_is_not_found(stack: Stack) -> None:
    await expect_error(
        stack.flight.call("BookFlight", flight_request(day(56), flight_number="ZZ999")),
        grpc.StatusCode.NOT_FOUND,
        field="flight_number",
    )
    await expect_error(
        stack.hotel.call("ReserveHotel", hotel_request(day(56), day(57), hotel_id="atlantis-inn")),
        grpc.StatusCode.NOT_FOUND,
        field="hotel_id",
    )
    await expect_error(
        stack.cab.call("SearchCabs", {"city": "Atlantis"}), grpc.StatusCode.NOT_FOUND, field="city"
    )
    await expect_error(
        stack.cab.call("ScheduleCab", cab_request(day(56), city="Atlantis")),
        grpc.StatusCode.NOT_FOUND,
        field="city",
    )
    await expect_error(
        stack.flight.call("GetFlightBooking", {"idempotency_key": key()}), grpc.StatusCode.NOT_FOUND
    )


async def test_concurrent_bookings_for_the_last_units_never_oversell(stack: Stack) -> None:
    """40 rides race for Dublin's 20 cabs in one hour; 10 stays race for the tiny inn's 2 rooms."""
    pickup = f"{day(60)}T18:15:00Z"
    rides = [cab_request(day(60), city="Dublin", pickup_time=pickup) for _ in range(40)]
    results = await asyncio.gather(*(stack.cab.call("ScheduleCab", r) for r in rides), return_exceptions=True)
    booked = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(booked) == 20 and len(refused) == 20, results
    assert all(e.code() == grpc.StatusCode.FAILED_PRECONDITION for e in refused)
    assert await cabs_left(stack, "Dublin", pickup) == 0

    stays = [hotel_request(day(60), day(62), hotel_id="lis-tiny-inn") for _ in range(10)]
    results = await asyncio.gather(
        *(stack.hotel.call("ReserveHotel", s) for s in stays), return_exceptions=True
    )
    assert sum(isinstance(r, dict) for r in results) == 2
    assert await rooms_left(stack, "lis-tiny-inn", day(60), day(62)) == 0

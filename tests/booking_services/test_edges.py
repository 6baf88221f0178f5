"""What a client can act on, at the booking services: bytes that do not parse, hostile text, huge
values and calls racing a shutdown each get a status a client can act on (DESIGN.md)."""

from __future__ import annotations

import asyncio
import collections
import signal
from pathlib import Path

import grpc

from tests.booking_services.stack import (
    Service,
    Stack,
    cab_request,
    day,
    expect_error,
    flight_request,
    hotel_request,
    service,
    start_all,
)
from tests.support.raw_calls import (
    HEALTH_CHECK,
    METHODS,
    NOT_PROTOBUF,
    NOT_UTF8,
    metadata_bytes,
    named_fields,
    raw_unary,
)
from tests.support.waiting import wait_for

HUGE = "ü" * 2000


async def test_bytes_that_do_not_parse_are_invalid_argument_on_every_method(stack: Stack) -> None:
    for svc in (stack.flight, stack.hotel, stack.cab):
        assert svc.channel is not None
        for method in [*METHODS[svc.name], HEALTH_CHECK]:
            for body in (NOT_PROTOBUF, NOT_UTF8):
                error = await expect_error(
                    raw_unary(svc.channel, method, body), grpc.StatusCode.INVALID_ARGUMENT
                )
                assert named_fields(error) == ["request"], (method, error.details())
        assert "Traceback" not in svc.process.log_tail(400), svc.process.log_tail(40)


async def test_huge_date_and_time_values_are_refused_by_field_with_a_small_reply(stack: Stack) -> None:
    cases: list[tuple[Service, str, dict[str, object], str]] = [
        (stack.flight, "BookFlight", flight_request(HUGE), "date"),
        (stack.flight, "SearchFlights", {"date": HUGE}, "date"),
        (stack.hotel, "ReserveHotel", hotel_request(day(3), HUGE), "check_out"),
        (stack.hotel, "SearchHotels", {"check_in": HUGE}, "check_in"),
        (stack.cab, "ScheduleCab", cab_request(day(3), pickup_time=HUGE), "pickup_time"),
        (stack.cab, "SearchCabs", {"city": "Lisbon", "pickup_time": HUGE}, "pickup_time"),
        (stack.cab, "ScheduleCab", cab_request(day(3), pickup_address=HUGE), "pickup_address"),
        (stack.flight, "BookFlight", flight_request(day(3), customer_id=HUGE), "customer_id"),
        (stack.flight, "GetFlightBooking", {"idempotency_key": HUGE}, "idempotency_key"),
    ]
    for svc, method, request, field in cases:
        error = await expect_error(svc.call(method, request), grpc.StatusCode.INVALID_ARGUMENT, field=field)
        assert metadata_bytes(error) < 2048, (method, metadata_bytes(error))


async def test_week_dates_control_characters_and_long_ids_are_refused_by_field(stack: Stack) -> None:
    cases: list[tuple[Service, str, dict[str, object], str]] = [
        (stack.flight, "BookFlight", flight_request("2027-W02-6"), "date"),
        (stack.flight, "BookFlight", flight_request(day(3), customer_id="x\u0000"), "customer_id"),
        (stack.flight, "BookFlight", flight_request(day(3), idempotency_key="k" * 129), "idempotency_key"),
        (stack.flight, "SearchFlights", {"origin": "LIS\n"}, "origin"),
        (stack.hotel, "SearchHotels", {"city": "Lisbon\u0085"}, "city"),
        (
            stack.cab,
            "ScheduleCab",
            cab_request(day(3), pickup_time=f"{day(3)}T14:00:00Z\u0000"),
            "pickup_time",
        ),
        (stack.cab, "ScheduleCab", cab_request(day(3), pickup_time=f"{day(3)}T14Z"), "pickup_time"),
        (stack.cab, "ScheduleCab", cab_request(day(3), pickup_time=f"{day(3)}T14:00:00+0530"), "pickup_time"),
        (
            stack.cab,
            "ScheduleCab",
            cab_request(day(3), pickup_time=f"{day(3)}T14:00:00+05:60"),
            "pickup_time",
        ),
        (stack.cab, "ScheduleCab", cab_request(day(3), dropoff_address="x" * 201), "dropoff_address"),
    ]
    for svc, method, request, field in cases:
        await expect_error(svc.call(method, request), grpc.StatusCode.INVALID_ARGUMENT, field=field)
    # Lower-case t and z are RFC 3339 too.
    booked = await stack.cab.call("ScheduleCab", cab_request(day(3), pickup_time=f"{day(3)}t10:00:00z"))
    assert booked["pickup_time"] == f"{day(3)}T10:00:00Z"


async def test_calls_racing_a_shutdown_get_unavailable_never_cancelled(tmp_path: Path) -> None:
    """Clients keep calling while the service drains and exits: each call is answered, refused
    UNAVAILABLE by the drain gate, or cut off UNAVAILABLE; none gets CANCELLED (never retried)."""
    svc = service(
        "flight",
        str(tmp_path / "flight.db"),
        tmp_path,
        extra_args=["--fault-latency-ms", "1000", "--fault-methods", "BookFlight"],
    )
    await start_all([svc])
    codes: collections.Counter[str] = collections.Counter()
    stopping = asyncio.Event()

    async def client() -> None:
        async with grpc.aio.insecure_channel(svc.address) as channel:
            get = "/tripbooking.flight.v1.FlightService/GetFlightBooking"
            while not stopping.is_set():
                try:
                    await raw_unary(channel, get, b"\x0a\x01x", timeout=10)
                    codes["OK"] += 1
                except grpc.aio.AioRpcError as error:
                    codes[error.code().name] += 1
                    if error.code() == grpc.StatusCode.UNAVAILABLE and not svc.process.running:
                        return

    try:
        clients = [asyncio.create_task(client()) for _ in range(6)]
        slow = svc.call("BookFlight", flight_request(day(5)))
        slow_task = asyncio.ensure_future(slow)

        async def held() -> bool:
            return '"event": "fault_latency"' in svc.process.log_tail(200)

        await wait_for(held, timeout=10, what="the slow call in flight")
        svc.process.signal(signal.SIGTERM)

        async def exited() -> bool:
            return not svc.process.running

        await wait_for(exited, timeout=20, what="the service to exit")
        stopping.set()
        await asyncio.gather(*clients)
        booked = await slow_task
        assert booked["status"] == "BOOKED"
        assert svc.process.process is not None and svc.process.process.returncode == 0
        assert codes["UNAVAILABLE"] > 0 and codes["NOT_FOUND"] > 0, codes
        assert set(codes) <= {"NOT_FOUND", "UNAVAILABLE"}, codes
    finally:
        stopping.set()
        await svc.close()

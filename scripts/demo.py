"""`make demo`: book one trip that is confirmed and one that is compensated, and show both.

The second trip asks for 3 rooms at `lis-tiny-inn`, which has 2: the hotel refuses (SOLD_OUT), so
the saga cancels the flight it had already booked and the trip ends FAILED. Each trip is followed
live through WatchTrip, then printed step by step. Uses the stack at ORCHESTRATOR_ADDR if one
answers, else starts its own on free ports (secure with STACK_SECURE=1). Against a secured stack it
dials with TRIP_TLS_CA/CERT/KEY and sends TRIP_TOKEN (e.g. `source var/secure/env` and
TRIP_TOKEN=$TRIP_TOKEN_OPERATOR: the demo books for two customers, which only an operator may).

    python -m scripts.demo
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from booking_runtime import flags, tls
from orchestrator import bearer
from scripts.stack import Stack, StackOptions, StackPorts
from scripts.stack_health import wait_grpc_serving
from scripts.stack_ports import running_addresses
from scripts.stack_temporal import ROOT

TIMEOUT_S = 60.0


def _status(value: trip_pb2.TripStatus.ValueType) -> str:
    return trip_pb2.TripStatus.Name(value).removeprefix("TRIP_STATUS_")


def _step_status(value: trip_pb2.StepStatus.ValueType) -> str:
    return trip_pb2.StepStatus.Name(value).removeprefix("STEP_STATUS_")


def trip_request(tag: str, name: str, hotel_id: str, rooms: int) -> trip_pb2.BookTripRequest:
    """A Lisbon trip a month from today (UTC), so the dates are always bookable."""
    day = datetime.now(UTC).date() + timedelta(days=30)
    return trip_pb2.BookTripRequest(
        request_id=f"demo-{tag}-{name}",
        customer_id="demo-customer",
        flight=trip_pb2.FlightRequest(flight_number="TB101", date=day.isoformat(), seats=1),
        hotel=trip_pb2.HotelRequest(
            hotel_id=hotel_id,
            check_in=day.isoformat(),
            check_out=(day + timedelta(days=3)).isoformat(),
            rooms=rooms,
        ),
        cab=trip_pb2.CabRequest(
            city="Lisbon",
            pickup_time=f"{day.isoformat()}T14:00:00Z",
            pickup_address="Lisbon Airport, Terminal 1",
            dropoff_address="Rua de Sao Tome 12, Alfama",
        ),
        wait_for_outcome=False,
    )


def progress_line(trip: trip_pb2.Trip, started: float) -> str:
    steps = "  ".join(f"{s.name} {_step_status(s.status):<11}" for s in trip.steps)
    return f"    +{time.monotonic() - started:5.2f}s  {_status(trip.status):<12}  {steps}"


def detail(trip: trip_pb2.Trip) -> str:
    lines = [f"    trip {trip.trip_id}: {_status(trip.status)}"]
    if trip.failure_reason:
        lines.append(f"    failure_reason: {trip.failure_reason}")
    lines.append(f"      {'step':<7}{'status':<13}{'confirmation':<31}{'attempts':>8}  last_error")
    for step in trip.steps:
        price = f" ({step.price_cents / 100:.2f} {step.currency})" if step.currency else ""
        confirmation = (step.confirmation_id or "-") + price
        lines.append(
            f"      {step.name:<7}{_step_status(step.status):<13}{confirmation:<31}{step.attempts:>8}  "
            f"{step.last_error or '-'}"
        )
    return "\n".join(lines)


async def service_view(addresses: dict[str, str], step: trip_pb2.TripStep) -> str:
    """What the step's own service holds for its idempotency key: the saga's effect, seen from outside."""
    try:
        async with tls.aio_channel(addresses[step.name]) as channel:
            if step.name == "flight":
                flights: flight_pb2_grpc.FlightServiceAsyncStub = flight_pb2_grpc.FlightServiceStub(channel)
                flight = await flights.GetFlightBooking(
                    flight_pb2.GetFlightBookingRequest(idempotency_key=step.idempotency_key), timeout=10
                )
                status = flight_pb2.BookingStatus.Name(flight.status)
            elif step.name == "hotel":
                hotels: hotel_pb2_grpc.HotelServiceAsyncStub = hotel_pb2_grpc.HotelServiceStub(channel)
                hotel = await hotels.GetHotelReservation(
                    hotel_pb2.GetHotelReservationRequest(idempotency_key=step.idempotency_key), timeout=10
                )
                status = hotel_pb2.BookingStatus.Name(hotel.status)
            else:
                cabs: cab_pb2_grpc.CabServiceAsyncStub = cab_pb2_grpc.CabServiceStub(channel)
                cab = await cabs.GetCabBooking(
                    cab_pb2.GetCabBookingRequest(idempotency_key=step.idempotency_key), timeout=10
                )
                status = cab_pb2.BookingStatus.Name(cab.status)
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return "nothing (never booked)"
        return f"unknown ({err.code().name}: {err.details()})"
    return {"BOOKED": "BOOKED (holds inventory)", "CANCELLED": "CANCELLED (holds nothing)"}.get(
        status, status
    )


async def follow(
    stub: trip_pb2_grpc.TripServiceAsyncStub,
    addresses: dict[str, str],
    title: str,
    request: trip_pb2.BookTripRequest,
) -> None:
    """Book, then print every change WatchTrip streams until the outcome is known."""
    print(f"\n== {title}")
    started = time.monotonic()
    reply = await stub.BookTrip(request, timeout=TIMEOUT_S)
    print(f"    BookTrip request_id={request.request_id} -> trip_id={reply.trip_id}")
    print(progress_line(reply.trip, started))
    outcome = {trip_pb2.TRIP_STATUS_CONFIRMED, trip_pb2.TRIP_STATUS_FAILED, trip_pb2.TRIP_STATUS_CANCELLED}
    last = reply.trip
    if last.status not in outcome:
        stream = stub.WatchTrip(trip_pb2.WatchTripRequest(trip_id=reply.trip_id), timeout=TIMEOUT_S)
        async for trip in stream:
            if trip.steps != last.steps or trip.status != last.status:
                print(progress_line(trip, started))
            last = trip
            if trip.status in outcome:
                stream.cancel()
                break
    final = await stub.GetTrip(trip_pb2.GetTripRequest(trip_id=reply.trip_id), timeout=TIMEOUT_S)
    print(detail(final))
    print("    what each service holds for the trip's keys:")
    for step in final.steps:
        if step.idempotency_key:
            print(f"      {step.name:<7}{await service_view(addresses, step)}")
    if any(s.status == trip_pb2.STEP_STATUS_COMPENSATED for s in final.steps):
        print("    compensation: every step cancelled at its service by key, newest first: a booked one is")
        print("    given back, one never booked leaves a tombstone (a late booking with its key is refused);")
        print("    a step's attempts count its bookings and its cancel. Nothing stays booked for this trip.")


@contextlib.asynccontextmanager
async def orchestrator() -> AsyncIterator[dict[str, str]]:
    """Addresses of the API and the services: the running stack's if it answers, else our own stack's."""
    running = running_addresses()
    address = running["api"]
    try:
        await wait_grpc_serving(address, timeout=1.5)
    except TimeoutError:
        pass
    else:
        print(f"using the stack at {address}")
        yield running
        return
    state = ROOT / "var" / "demo" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    print(f"no stack at {address}; starting one (state and logs in {state.relative_to(ROOT)}) ...")
    secure = flags.parse_switch(os.environ.get("STACK_SECURE") or "off")
    options = StackOptions(ports=StackPorts.free(), state_dir=state, log_dir=state / "logs", secure=secure)
    async with Stack(options) as stack:
        if stack.secure is not None:  # dial as the operator, over mutual TLS
            os.environ.update(stack.secure.material.client_env(operator=True))
        yield stack.addresses


async def main_async() -> int:
    tag = uuid.uuid4().hex[:8]
    async with (
        orchestrator() as addresses,
        tls.aio_channel(
            addresses["api"], interceptors=bearer.aio_interceptors(os.environ.get("TRIP_TOKEN", ""))
        ) as channel,
    ):
        stub: trip_pb2_grpc.TripServiceAsyncStub = trip_pb2_grpc.TripServiceStub(channel)
        await follow(
            stub,
            addresses,
            "Trip 1: flight, hotel and cab all available -> CONFIRMED",
            trip_request(tag, "confirmed", "lis-alfama-lodge", rooms=1),
        )
        await follow(
            stub,
            addresses,
            "Trip 2: 3 rooms at lis-tiny-inn (it has 2) -> hotel SOLD_OUT, flight cancelled, FAILED",
            trip_request(tag, "sold-out", "lis-tiny-inn", rooms=3),
        )
    return 0


def main() -> None:
    try:
        sys.exit(asyncio.run(main_async()))
    except grpc.aio.AioRpcError as err:
        print(f"demo: {err.code().name}: {err.details()}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

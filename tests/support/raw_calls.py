"""Calls with raw bytes (no serializer): what a broken or hostile client can send to any method."""

from __future__ import annotations

from typing import cast

import grpc

from tests.support.reflection_client import bad_request

# Every business method of the four servers, by full gRPC path.
METHODS = {
    "flight": [f"/tripbooking.flight.v1.FlightService/{m}"
               for m in ("SearchFlights", "BookFlight", "CancelFlightBooking", "GetFlightBooking")],
    "hotel": [f"/tripbooking.hotel.v1.HotelService/{m}"
              for m in ("SearchHotels", "ReserveHotel", "CancelHotelReservation", "GetHotelReservation")],
    "cab": [f"/tripbooking.cab.v1.CabService/{m}"
            for m in ("SearchCabs", "ScheduleCab", "CancelCab", "GetCabBooking")],
    "trip": [f"/tripbooking.trip.v1.TripService/{m}"
             for m in ("BookTrip", "GetTrip", "ListTrips", "CancelTrip")],
}  # fmt: skip
WATCH_TRIP = "/tripbooking.trip.v1.TripService/WatchTrip"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
# Not a protobuf message: a field 1 of wire type 7 (there is no such wire type).
NOT_PROTOBUF = b"\x0f\xff\xff"
# Field 1 as a string of bytes that are not UTF-8: protobuf refuses it for a proto3 string field.
NOT_UTF8 = b"\x0a\x02\xc3\x28"


async def raw_unary(channel: grpc.aio.Channel, method: str, body: bytes, timeout: float = 30) -> bytes:
    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
    reply: bytes = await call(body, timeout=timeout)
    return reply


async def raw_stream_first(channel: grpc.aio.Channel, method: str, body: bytes, timeout: float = 30) -> bytes:
    """The first message of a server stream sent raw bytes (or the error that ends it)."""
    call: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(method)
    stream = call(body, timeout=timeout)
    try:
        async for reply in stream:
            return bytes(reply)
        return b""
    finally:
        stream.cancel()


def named_fields(error: grpc.aio.AioRpcError) -> list[str]:
    """The fields an INVALID_ARGUMENT names in its BadRequest detail."""
    bad = bad_request(error)
    return [violation.field for violation in bad.field_violations] if bad is not None else []


def metadata_bytes(error: grpc.aio.AioRpcError) -> int:
    """How many bytes the reply's status took in headers: message plus trailing metadata."""
    size = len((error.details() or "").encode())
    for item in error.trailing_metadata() or ():
        key, value = cast("tuple[str, str | bytes]", item)
        size += len(key) + len(value)
    return size

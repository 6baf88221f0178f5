"""The two calls `make bench` measures, on one channel per server: the three bookings made directly
(`direct`, the baseline) and BookTrip through the saga (`booktrip`)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from tripbooking.cab.v1 import cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2_grpc
from tripbooking.hotel.v1 import hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from booking_runtime import tls
from orchestrator import bearer
from scripts.bench_workload import Workload
from scripts.stack_secure import SecureStackParts

CONFIRMED = trip_pb2.TRIP_STATUS_CONFIRMED
Call = Callable[[int], Awaitable[None]]


class Clients:
    """One channel per server, shared by every concurrent caller (as the worker and a real client do)."""

    def __init__(self, addresses: dict[str, str], secure: SecureStackParts | None = None) -> None:
        # Secure stack: mutual TLS to every server, the operator's token to TripService. Otherwise the
        # TRIP_TLS_* / TRIP_TOKEN of this process (unset: plaintext, no interceptor).
        settings = secure.probe_tls() if secure else None
        token = secure.material.operator_token if secure else os.environ.get("TRIP_TOKEN", "")
        self.channels = [tls.aio_channel(addresses[n], settings=settings) for n in ("flight", "hotel", "cab")]
        self.channels.append(
            tls.aio_channel(addresses["api"], settings=settings, interceptors=bearer.aio_interceptors(token))
        )
        self.flight: flight_pb2_grpc.FlightServiceAsyncStub = flight_pb2_grpc.FlightServiceStub(
            self.channels[0]
        )
        self.hotel: hotel_pb2_grpc.HotelServiceAsyncStub = hotel_pb2_grpc.HotelServiceStub(self.channels[1])
        self.cab: cab_pb2_grpc.CabServiceAsyncStub = cab_pb2_grpc.CabServiceStub(self.channels[2])
        self.trips: trip_pb2_grpc.TripServiceAsyncStub = trip_pb2_grpc.TripServiceStub(self.channels[3])

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close(None)


def direct_call(clients: Clients, workload: Workload) -> Call:
    async def call(index: int) -> None:
        flight, hotel, cab = workload.direct_requests(index)
        await clients.flight.BookFlight(flight, timeout=30)
        await clients.hotel.ReserveHotel(hotel, timeout=30)
        await clients.cab.ScheduleCab(cab, timeout=30)

    return call


def booktrip_call(clients: Clients, workload: Workload) -> Call:
    async def call(index: int) -> None:
        reply = await clients.trips.BookTrip(workload.trip_request(index), timeout=120)
        if reply.trip.status != CONFIRMED:  # a fast wrong answer is not a result
            raise RuntimeError(
                f"trip {reply.trip_id} ended {trip_pb2.TripStatus.Name(reply.trip.status)}: "
                f"{reply.trip.failure_reason}"
            )

    return call

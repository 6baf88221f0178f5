"""tripbooking.cab.v1.CabService: protobuf in, domain and ledger, protobuf out."""

from __future__ import annotations

import grpc
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc

from booking_runtime import validation
from booking_runtime.app import BookingApp
from booking_runtime.grpc_types import Context
from booking_runtime.ledger import BOOKED, BookingRecord
from cab_svc.domain import CabDomain, slot_of


def to_proto(record: BookingRecord) -> cab_pb2.CabBooking:
    details = record.details
    return cab_pb2.CabBooking(
        booking_id=record.booking_id,
        idempotency_key=record.idempotency_key,
        status=cab_pb2.BOOKED if record.status == BOOKED else cab_pb2.CANCELLED,
        city=details.get("city", ""),
        pickup_time=details.get("pickup_time", ""),
        price_cents=record.price_cents,
        currency=record.currency,
        pickup_address=details.get("pickup_address", ""),
        dropoff_address=details.get("dropoff_address", ""),
        customer_id=record.customer_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class CabServicer(cab_pb2_grpc.CabServiceServicer):
    """Thin adapter: every rule lives in CabDomain and the shared Ledger."""

    def __init__(self, app: BookingApp) -> None:
        self._ledger = app.ledger
        self._domain = CabDomain(app.catalog)

    async def SearchCabs(
        self, request: cab_pb2.SearchCabsRequest, context: Context
    ) -> cab_pb2.SearchCabsResponse:
        fleet, pickup = self._domain.search(request.city, request.pickup_time)
        slot = slot_of(pickup)
        taken = await self._ledger.taken([fleet.city], [slot])
        return cab_pb2.SearchCabsResponse(
            city=fleet.city,
            pickup_time=validation.rfc3339(pickup),
            cabs_available=fleet.cabs_per_hour - taken.get((fleet.city, slot), 0),
            price_cents=fleet.price_cents,
            currency=fleet.currency,
        )

    async def ScheduleCab(self, request: cab_pb2.ScheduleCabRequest, context: Context) -> cab_pb2.CabBooking:
        booking = self._domain.booking_request(
            request.idempotency_key,
            request.customer_id,
            request.city,
            request.pickup_time,
            request.pickup_address,
            request.dropoff_address,
        )
        return to_proto(await self._ledger.book(booking))

    async def CancelCab(self, request: cab_pb2.CancelCabRequest, context: Context) -> cab_pb2.CabBooking:
        return to_proto(await self._ledger.cancel(validation.idempotency_key(request.idempotency_key)))

    async def GetCabBooking(
        self, request: cab_pb2.GetCabBookingRequest, context: Context
    ) -> cab_pb2.CabBooking:
        return to_proto(await self._ledger.get(validation.idempotency_key(request.idempotency_key)))


def register(server: grpc.aio.Server, app: BookingApp) -> None:
    cab_pb2_grpc.add_CabServiceServicer_to_server(CabServicer(app), server)

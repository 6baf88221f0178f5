"""tripbooking.hotel.v1.HotelService: protobuf in, domain and ledger, protobuf out."""

from __future__ import annotations

import grpc
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc

from booking_runtime import validation
from booking_runtime.app import BookingApp
from booking_runtime.grpc_types import Context
from booking_runtime.ledger import BOOKED, BookingRecord
from hotel_svc.domain import HotelDomain


def to_proto(record: BookingRecord) -> hotel_pb2.HotelReservation:
    details = record.details
    return hotel_pb2.HotelReservation(
        reservation_id=record.booking_id,
        idempotency_key=record.idempotency_key,
        status=hotel_pb2.BOOKED if record.status == BOOKED else hotel_pb2.CANCELLED,
        hotel_id=details.get("hotel_id", ""),
        check_in=details.get("check_in", ""),
        check_out=details.get("check_out", ""),
        rooms=int(details.get("rooms", 0)),
        price_cents=record.price_cents,
        currency=record.currency,
        customer_id=record.customer_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class HotelServicer(hotel_pb2_grpc.HotelServiceServicer):
    """Thin adapter: every rule lives in HotelDomain and the shared Ledger."""

    def __init__(self, app: BookingApp) -> None:
        self._ledger = app.ledger
        self._domain = HotelDomain(app.catalog)

    async def SearchHotels(
        self, request: hotel_pb2.SearchHotelsRequest, context: Context
    ) -> hotel_pb2.SearchHotelsResponse:
        hotels, stay = self._domain.search(request.city, request.check_in, request.check_out)
        nights = stay.nights
        taken = await self._ledger.taken([h.hotel_id for h in hotels], nights)
        return hotel_pb2.SearchHotelsResponse(
            hotels=[
                hotel_pb2.Hotel(
                    hotel_id=h.hotel_id,
                    name=h.name,
                    city=h.city,
                    rooms_available=min(h.rooms - taken.get((h.hotel_id, night), 0) for night in nights),
                    price_cents=h.price_cents,
                    currency=h.currency,
                )
                for h in hotels
            ]
        )

    async def ReserveHotel(
        self, request: hotel_pb2.ReserveHotelRequest, context: Context
    ) -> hotel_pb2.HotelReservation:
        booking = self._domain.booking_request(
            request.idempotency_key,
            request.customer_id,
            request.hotel_id,
            request.check_in,
            request.check_out,
            request.rooms,
        )
        return to_proto(await self._ledger.book(booking))

    async def CancelHotelReservation(
        self, request: hotel_pb2.CancelHotelReservationRequest, context: Context
    ) -> hotel_pb2.HotelReservation:
        return to_proto(await self._ledger.cancel(validation.idempotency_key(request.idempotency_key)))

    async def GetHotelReservation(
        self, request: hotel_pb2.GetHotelReservationRequest, context: Context
    ) -> hotel_pb2.HotelReservation:
        return to_proto(await self._ledger.get(validation.idempotency_key(request.idempotency_key)))


def register(server: grpc.aio.Server, app: BookingApp) -> None:
    hotel_pb2_grpc.add_HotelServiceServicer_to_server(HotelServicer(app), server)

"""tripbooking.flight.v1.FlightService: protobuf in, domain and ledger, protobuf out."""

from __future__ import annotations

import grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc

from booking_runtime import validation
from booking_runtime.app import BookingApp
from booking_runtime.grpc_types import Context
from booking_runtime.ledger import BOOKED, BookingRecord
from flight_svc.domain import FlightDomain


def to_proto(record: BookingRecord) -> flight_pb2.FlightBooking:
    details = record.details
    return flight_pb2.FlightBooking(
        booking_id=record.booking_id,
        idempotency_key=record.idempotency_key,
        status=flight_pb2.BOOKED if record.status == BOOKED else flight_pb2.CANCELLED,
        flight_number=details.get("flight_number", ""),
        date=details.get("date", ""),
        seats=int(details.get("seats", 0)),
        price_cents=record.price_cents,
        currency=record.currency,
        customer_id=record.customer_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class FlightServicer(flight_pb2_grpc.FlightServiceServicer):
    """Thin adapter: every rule lives in FlightDomain and the shared Ledger."""

    def __init__(self, app: BookingApp) -> None:
        self._ledger = app.ledger
        self._domain = FlightDomain(app.catalog)

    async def SearchFlights(
        self, request: flight_pb2.SearchFlightsRequest, context: Context
    ) -> flight_pb2.SearchFlightsResponse:
        flights, day = self._domain.search(request.origin, request.destination, request.date)
        slot = day.isoformat()
        taken = await self._ledger.taken([f.flight_number for f in flights], [slot])
        return flight_pb2.SearchFlightsResponse(
            flights=[
                flight_pb2.Flight(
                    flight_number=f.flight_number,
                    origin=f.origin,
                    destination=f.destination,
                    date=slot,
                    departure_time=validation.rfc3339(f.departs_at(day)),
                    arrival_time=validation.rfc3339(f.arrives_at(day)),
                    seats_available=f.seats - taken.get((f.flight_number, slot), 0),
                    price_cents=f.price_cents,
                    currency=f.currency,
                )
                for f in flights
            ]
        )

    async def BookFlight(
        self, request: flight_pb2.BookFlightRequest, context: Context
    ) -> flight_pb2.FlightBooking:
        booking = self._domain.booking_request(
            request.idempotency_key, request.customer_id, request.flight_number, request.date, request.seats
        )
        return to_proto(await self._ledger.book(booking))

    async def CancelFlightBooking(
        self, request: flight_pb2.CancelFlightBookingRequest, context: Context
    ) -> flight_pb2.FlightBooking:
        return to_proto(await self._ledger.cancel(validation.idempotency_key(request.idempotency_key)))

    async def GetFlightBooking(
        self, request: flight_pb2.GetFlightBookingRequest, context: Context
    ) -> flight_pb2.FlightBooking:
        return to_proto(await self._ledger.get(validation.idempotency_key(request.idempotency_key)))


def register(server: grpc.aio.Server, app: BookingApp) -> None:
    flight_pb2_grpc.add_FlightServiceServicer_to_server(FlightServicer(app), server)

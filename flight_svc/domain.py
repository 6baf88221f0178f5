"""Flights: the catalog, what a valid booking looks like, and what it takes from inventory.

A flight is flown daily; its inventory is (flight_number, date) with the catalog's seat count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from booking_runtime import validation
from booking_runtime.errors import NotFound
from booking_runtime.ledger import BookingRequest, Unit


@dataclass(frozen=True)
class FlightInfo:
    """One scheduled flight from the catalog."""

    flight_number: str
    origin: str
    destination: str
    departure: time
    duration_minutes: int
    seats: int
    price_cents: int
    currency: str

    @classmethod
    def from_catalog(cls, item: Mapping[str, Any]) -> FlightInfo:
        return cls(
            flight_number=item["flight_number"],
            origin=item["origin"],
            destination=item["destination"],
            departure=time.fromisoformat(item["departure"]),
            duration_minutes=int(item["duration_minutes"]),
            seats=int(item["seats"]),
            price_cents=int(item["price_cents"]),
            currency=item["currency"],
        )

    def departs_at(self, day: date) -> datetime:
        return datetime.combine(day, self.departure, tzinfo=UTC)

    def arrives_at(self, day: date) -> datetime:
        return self.departs_at(day) + timedelta(minutes=self.duration_minutes)


class FlightDomain:
    """Validation, lookups and pricing for flight bookings."""

    def __init__(self, catalog: Mapping[str, Mapping[str, Any]]) -> None:
        self.flights = {number: FlightInfo.from_catalog(item) for number, item in catalog.items()}
        self._by_departure = sorted(self.flights.values(), key=lambda f: (f.departure, f.flight_number))

    def search(self, origin: str, destination: str, day_text: str) -> tuple[list[FlightInfo], date]:
        """Flights matching the filters (empty matches all) on a date (empty: today), by departure."""
        validation.text("origin", origin, required=False)
        validation.text("destination", destination, required=False)
        day = validation.bookable_date("date", day_text) if day_text else validation.today()
        origin, destination = origin.strip().upper(), destination.strip().upper()
        found = [
            f
            for f in self._by_departure
            if (not origin or f.origin == origin) and (not destination or f.destination == destination)
        ]
        return found, day

    def flight(self, flight_number: str) -> FlightInfo:
        flight = self.flights.get(flight_number.strip().upper())
        if flight is None:
            raise NotFound(f"no flight {flight_number!r} in the schedule", field="flight_number")
        return flight

    def booking_request(
        self, idempotency_key: str, customer_id: str, flight_number: str, day_text: str, seats: int
    ) -> BookingRequest:
        """Validate a BookFlight (every field before any lookup) and say what it takes."""
        validation.idempotency_key(idempotency_key)
        validation.identifier("customer_id", customer_id)
        validation.identifier("flight_number", flight_number)
        validation.count("seats", seats)
        day = validation.bookable_date("date", day_text)
        flight = self.flight(flight_number)
        return BookingRequest(
            idempotency_key=idempotency_key,
            customer_id=customer_id,
            details={"flight_number": flight.flight_number, "date": day.isoformat(), "seats": seats},
            units=(Unit(flight.flight_number, day.isoformat(), seats, flight.seats),),
            price_cents=flight.price_cents * seats,
            currency=flight.currency,
        )

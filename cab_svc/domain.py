"""Cabs: each city's fleet, counted per pickup hour; a ride takes one cab in its hour.

Pickup times arrive as RFC 3339 with any offset and are stored in UTC; the inventory slot is
the UTC hour ("2026-05-01T09"), so two pickups in one hour share that hour's fleet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from booking_runtime import validation
from booking_runtime.errors import InvalidArgument, NotFound
from booking_runtime.ledger import BookingRequest, Unit


@dataclass(frozen=True)
class FleetInfo:
    """One city's fleet from the catalog."""

    city: str
    cabs_per_hour: int
    price_cents: int  # flat fare of one ride
    currency: str

    @classmethod
    def from_catalog(cls, item: Mapping[str, Any]) -> FleetInfo:
        return cls(
            city=item["city"],
            cabs_per_hour=int(item["cabs_per_hour"]),
            price_cents=int(item["price_cents"]),
            currency=item["currency"],
        )


def slot_of(pickup: datetime) -> str:
    """The inventory slot of a UTC pickup time: its hour."""
    return pickup.strftime("%Y-%m-%dT%H")


class CabDomain:
    """Validation, lookups and pricing for cab bookings."""

    def __init__(self, catalog: Mapping[str, Mapping[str, Any]]) -> None:
        fleets = [FleetInfo.from_catalog(item) for item in catalog.values()]
        self.fleets = {fleet.city.casefold(): fleet for fleet in fleets}

    def fleet(self, city: str) -> FleetInfo:
        validation.text("city", city)
        fleet = self.fleets.get(city.strip().casefold())
        if fleet is None:
            raise NotFound(f"no cabs in {city!r}: not a city we serve", field="city")
        return fleet

    def search(self, city: str, pickup_text: str) -> tuple[FleetInfo, datetime]:
        """The fleet of a city (required; unknown: NOT_FOUND) and the pickup time (empty: now)."""
        pickup = validation.bookable_pickup("pickup_time", pickup_text) if pickup_text else datetime.now(UTC)
        return self.fleet(city), pickup

    def booking_request(
        self,
        idempotency_key: str,
        customer_id: str,
        city: str,
        pickup_text: str,
        pickup_address: str,
        dropoff_address: str,
    ) -> BookingRequest:
        """Validate a ScheduleCab (every field before any lookup) and say what it takes."""
        validation.idempotency_key(idempotency_key)
        validation.identifier("customer_id", customer_id)
        validation.text("city", city)
        if not pickup_text:
            raise InvalidArgument("pickup_time", "is required")
        pickup = validation.bookable_pickup("pickup_time", pickup_text)
        validation.text("pickup_address", pickup_address)
        validation.text("dropoff_address", dropoff_address)
        fleet = self.fleet(city)
        return BookingRequest(
            idempotency_key=idempotency_key,
            customer_id=customer_id,
            details={
                "city": fleet.city,
                "pickup_time": validation.rfc3339(pickup),
                "pickup_address": pickup_address,
                "dropoff_address": dropoff_address,
            },
            units=(Unit(fleet.city, slot_of(pickup), 1, fleet.cabs_per_hour),),
            price_cents=fleet.price_cents,
            currency=fleet.currency,
        )

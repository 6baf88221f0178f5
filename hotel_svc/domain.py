"""Hotels: the catalog, what a valid stay looks like, and the nights it takes from inventory.

A stay takes `rooms` on every night from check_in up to (not including) check_out; the
inventory is (hotel_id, night) with the catalog's room count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from booking_runtime import validation
from booking_runtime.errors import InvalidArgument, NotFound
from booking_runtime.ledger import BookingRequest, Unit


@dataclass(frozen=True)
class HotelInfo:
    """One hotel from the catalog."""

    hotel_id: str
    name: str
    city: str
    rooms: int
    price_cents: int  # one room, one night
    currency: str

    @classmethod
    def from_catalog(cls, item: Mapping[str, Any]) -> HotelInfo:
        return cls(
            hotel_id=item["hotel_id"],
            name=item["name"],
            city=item["city"],
            rooms=int(item["rooms"]),
            price_cents=int(item["price_cents"]),
            currency=item["currency"],
        )


@dataclass(frozen=True)
class Stay:
    check_in: date
    check_out: date

    @property
    def nights(self) -> list[str]:
        count = (self.check_out - self.check_in).days
        return [(self.check_in + timedelta(days=n)).isoformat() for n in range(count)]


def stay(check_in_text: str, check_out_text: str) -> Stay:
    """A bookable stay: check_in from today, 1 to MAX_NIGHTS nights, the last night within the horizon."""
    check_in = validation.bookable_date("check_in", check_in_text)
    check_out = validation.bookable_date("check_out", check_out_text, extra_days=1)
    if check_out <= check_in:
        raise InvalidArgument("check_out", f"must be after check_in ({check_in.isoformat()})")
    if (check_out - check_in).days > validation.MAX_NIGHTS:
        raise InvalidArgument("check_out", f"a stay is at most {validation.MAX_NIGHTS} nights")
    return Stay(check_in, check_out)


class HotelDomain:
    """Validation, lookups and pricing for hotel reservations."""

    def __init__(self, catalog: Mapping[str, Mapping[str, Any]]) -> None:
        self.hotels = {hotel_id: HotelInfo.from_catalog(item) for hotel_id, item in catalog.items()}
        self._ordered = sorted(self.hotels.values(), key=lambda h: (h.city, h.name))

    def search(self, city: str, check_in_text: str, check_out_text: str) -> tuple[list[HotelInfo], Stay]:
        """Hotels in a city (empty: all) for a stay (empty check_in: today; empty check_out: one night)."""
        validation.text("city", city, required=False)
        check_in = check_in_text or validation.today().isoformat()
        if check_out_text:
            check_out = check_out_text
        else:
            check_out = (validation.bookable_date("check_in", check_in) + timedelta(days=1)).isoformat()
        found_stay = stay(check_in, check_out)
        wanted = city.strip().casefold()
        return [h for h in self._ordered if not wanted or h.city.casefold() == wanted], found_stay

    def hotel(self, hotel_id: str) -> HotelInfo:
        hotel = self.hotels.get(hotel_id.strip())
        if hotel is None:
            raise NotFound(f"no hotel {hotel_id!r}", field="hotel_id")
        return hotel

    def booking_request(
        self, idempotency_key: str, customer_id: str, hotel_id: str, check_in: str, check_out: str, rooms: int
    ) -> BookingRequest:
        """Validate a ReserveHotel (every field before any lookup) and say what it takes."""
        validation.idempotency_key(idempotency_key)
        validation.identifier("customer_id", customer_id)
        validation.identifier("hotel_id", hotel_id)
        validation.count("rooms", rooms)
        the_stay = stay(check_in, check_out)
        hotel = self.hotel(hotel_id)
        nights = the_stay.nights
        return BookingRequest(
            idempotency_key=idempotency_key,
            customer_id=customer_id,
            details={
                "hotel_id": hotel.hotel_id,
                "check_in": the_stay.check_in.isoformat(),
                "check_out": the_stay.check_out.isoformat(),
                "rooms": rooms,
            },
            units=tuple(Unit(hotel.hotel_id, night, rooms, hotel.rooms) for night in nights),
            price_cents=hotel.price_cents * rooms * len(nights),
            currency=hotel.currency,
        )

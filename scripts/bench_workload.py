"""What the benchmark books: requests spread over the whole catalog so nothing ever sells out.

Request `i` gets flight `i mod F` on day `1 + (i div F) mod 360`, and likewise for hotels (one
night) and cab hours, so consecutive requests land on different rows (no lock contention that a
real spread of customers would not have) and a (flight, date) sees one booking per F*360 trips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tripbooking.cab.v1 import cab_pb2
from tripbooking.flight.v1 import flight_pb2
from tripbooking.hotel.v1 import hotel_pb2
from tripbooking.trip.v1 import trip_pb2

from scripts.stack_temporal import ROOT

DAYS = 360
# Below this many rooms a hotel could sell out within one run; the demo's 2-room inn is one.
MIN_ROOMS = 20


def _catalog(service: str) -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads((ROOT / service / "catalog.json").read_text())
    return data


@dataclass(frozen=True)
class Workload:
    """Catalog keys to spread requests over, and a run tag that keeps keys fresh across runs."""

    run_tag: str
    flights: tuple[str, ...]
    hotels: tuple[str, ...]
    cities: tuple[str, ...]
    today: date

    @classmethod
    def from_catalogs(cls, run_tag: str) -> Workload:
        hotels = tuple(str(h["hotel_id"]) for h in _catalog("hotel_svc") if int(str(h["rooms"])) >= MIN_ROOMS)
        return cls(
            run_tag=run_tag,
            flights=tuple(str(f["flight_number"]) for f in _catalog("flight_svc")),
            hotels=hotels,
            cities=tuple(str(c["city"]) for c in _catalog("cab_svc")),
            today=datetime.now(UTC).date(),
        )

    def _day(self, index: int, width: int) -> date:
        return self.today + timedelta(days=1 + (index // width) % DAYS)

    def flight(self, index: int) -> tuple[str, str]:
        return self.flights[index % len(self.flights)], self._day(index, len(self.flights)).isoformat()

    def hotel(self, index: int) -> tuple[str, str, str]:
        # One night from the flight's day: BookTrip refuses a stay that ends before the flight.
        check_in = self._day(index, len(self.flights))
        return (
            self.hotels[index % len(self.hotels)],
            check_in.isoformat(),
            (check_in + timedelta(days=1)).isoformat(),
        )

    def cab(self, index: int) -> tuple[str, str]:
        width = len(self.cities)
        slot = index // width
        day = self.today + timedelta(days=1 + (slot // 24) % DAYS)
        pickup = datetime.combine(day, time(hour=slot % 24), tzinfo=UTC)
        return self.cities[index % width], pickup.isoformat().replace("+00:00", "Z")

    def key(self, index: int) -> str:
        return f"bench-{self.run_tag}-{index}"

    def customer(self, index: int) -> str:
        return f"cust-{index % 1000}"

    def trip_request(self, index: int, wait_for_outcome: bool = True) -> trip_pb2.BookTripRequest:
        flight_number, flight_date = self.flight(index)
        hotel_id, check_in, check_out = self.hotel(index)
        city, pickup = self.cab(index)
        return trip_pb2.BookTripRequest(
            request_id=self.key(index),
            customer_id=self.customer(index),
            flight=trip_pb2.FlightRequest(flight_number=flight_number, date=flight_date, seats=1),
            hotel=trip_pb2.HotelRequest(hotel_id=hotel_id, check_in=check_in, check_out=check_out, rooms=1),
            cab=trip_pb2.CabRequest(
                city=city, pickup_time=pickup, pickup_address="Airport", dropoff_address="Hotel"
            ),
            wait_for_outcome=wait_for_outcome,
        )

    def direct_requests(
        self, index: int
    ) -> tuple[flight_pb2.BookFlightRequest, hotel_pb2.ReserveHotelRequest, cab_pb2.ScheduleCabRequest]:
        """The same three bookings a trip makes, for the no-Temporal baseline."""
        flight_number, flight_date = self.flight(index)
        hotel_id, check_in, check_out = self.hotel(index)
        city, pickup = self.cab(index)
        key, customer = self.key(index), self.customer(index)
        return (
            flight_pb2.BookFlightRequest(
                idempotency_key=f"{key}:flight", customer_id=customer, flight_number=flight_number,
                date=flight_date, seats=1,
            ),
            hotel_pb2.ReserveHotelRequest(
                idempotency_key=f"{key}:hotel", customer_id=customer, hotel_id=hotel_id,
                check_in=check_in, check_out=check_out, rooms=1,
            ),
            cab_pb2.ScheduleCabRequest(
                idempotency_key=f"{key}:cab", customer_id=customer, city=city, pickup_time=pickup,
                pickup_address="Airport", dropoff_address="Hotel",
            ),
        )  # fmt: skip

"""`python -m flight_svc`: the flight service (see --help for flags and environment)."""

from __future__ import annotations

from pathlib import Path

from tripbooking.flight.v1 import flight_pb2

from booking_runtime.app import BookingServiceDef, main
from flight_svc.servicer import register

DEFINITION = BookingServiceDef(
    name="flight",
    service_names=[flight_pb2.DESCRIPTOR.services_by_name["FlightService"].full_name],
    catalog_file=Path(__file__).with_name("catalog.json"),
    catalog_key="flight_number",
    id_prefix="FL",
    unit_name="seats",
    register=register,
    migrations=Path(__file__).with_name("migrations"),
)


if __name__ == "__main__":
    main(DEFINITION)

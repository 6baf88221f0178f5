"""`python -m cab_svc`: the cab service (see --help for flags and environment)."""

from __future__ import annotations

from pathlib import Path

from tripbooking.cab.v1 import cab_pb2

from booking_runtime.app import BookingServiceDef, main
from cab_svc.servicer import register

DEFINITION = BookingServiceDef(
    name="cab",
    service_names=[cab_pb2.DESCRIPTOR.services_by_name["CabService"].full_name],
    catalog_file=Path(__file__).with_name("catalog.json"),
    catalog_key="city",
    id_prefix="CB",
    unit_name="cabs",
    register=register,
    migrations=Path(__file__).with_name("migrations"),
)


if __name__ == "__main__":
    main(DEFINITION)

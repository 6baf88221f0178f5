"""`python -m hotel_svc`: the hotel service (see --help for flags and environment)."""

from __future__ import annotations

from pathlib import Path

from tripbooking.hotel.v1 import hotel_pb2

from booking_runtime.app import BookingServiceDef, main
from hotel_svc.servicer import register

DEFINITION = BookingServiceDef(
    name="hotel",
    service_names=[hotel_pb2.DESCRIPTOR.services_by_name["HotelService"].full_name],
    catalog_file=Path(__file__).with_name("catalog.json"),
    catalog_key="hotel_id",
    id_prefix="HT",
    unit_name="rooms",
    register=register,
    migrations=Path(__file__).with_name("migrations"),
)


if __name__ == "__main__":
    main(DEFINITION)

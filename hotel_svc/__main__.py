"""`python -m hotel_svc`: the hotel service (see --help for flags and environment)."""

from __future__ import annotations

from pathlib import Path

from tripbooking.hotel.v1 import hotel_pb2

from booking_runtime.app import BookingServiceDef, serve_booking_service
from booking_runtime.config import load_service_config
from booking_runtime.server import run
from hotel_svc.servicer import register

DEFINITION = BookingServiceDef(
    name="hotel",
    service_names=[hotel_pb2.DESCRIPTOR.services_by_name["HotelService"].full_name],
    catalog_file=Path(__file__).with_name("catalog.json"),
    catalog_key="hotel_id",
    id_prefix="HT",
    unit_name="rooms",
    register=register,
)


def main() -> None:
    config = load_service_config("hotel")
    run(lambda: serve_booking_service(DEFINITION, config))


if __name__ == "__main__":
    main()

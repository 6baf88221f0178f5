"""`tripctl`: book, get, list, cancel and watch trips from a shell, printing JSON.

    tripctl book --request-id r1 --customer alice --flight TB101 --date 2027-03-01 \\
        --hotel lis-alfama-lodge --check-in 2027-03-01 --check-out 2027-03-04 \\
        --city Lisbon --pickup-time 2027-03-01T18:00:00Z --pickup-address Airport \\
        --dropoff-address Alfama --wait
    tripctl get trip-r1 | tripctl watch trip-r1 | tripctl list --customer alice --status FAILED
    tripctl cancel trip-r1 --reason "plans changed"

A thin client of TripService: it talks to ORCHESTRATOR_ADDR (or --address) and nothing else.
Against a secured API: `--ca` (TLS; `--cert`/`--key` for mutual TLS) and `--token` (a JWT), or
TRIP_TLS_CA, TRIP_TLS_CERT, TRIP_TLS_KEY and TRIP_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from booking_runtime import tls
from orchestrator.bearer import BearerToken


def _print(message: Message) -> None:
    print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True), indent=2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tripctl", description="Book and follow trips (TripService client)."
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("ORCHESTRATOR_ADDR", "localhost:50050"),
        help="TripService host:port (env ORCHESTRATOR_ADDR, default localhost:50050)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer")
    env = os.environ
    parser.add_argument(
        "--ca", default=env.get("TRIP_TLS_CA", ""), help="CA bundle (PEM): use TLS [env TRIP_TLS_CA]"
    )
    parser.add_argument(
        "--cert", default=env.get("TRIP_TLS_CERT", ""), help="client cert (PEM) [env TRIP_TLS_CERT]"
    )
    parser.add_argument(
        "--key", default=env.get("TRIP_TLS_KEY", ""), help="client key (PEM) [env TRIP_TLS_KEY]"
    )
    parser.add_argument(
        "--token", default=env.get("TRIP_TOKEN", ""), help="JWT sent as Bearer [env TRIP_TOKEN]"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="book a trip (flight, hotel, cab)")
    for flag, text in [
        ("--request-id", "your idempotency key for this trip"),
        ("--customer", "who travels"),
        ("--flight", "flight number, e.g. TB101"),
        ("--date", "flight date YYYY-MM-DD"),
        ("--hotel", "hotel id, e.g. lis-alfama-lodge"),
        ("--check-in", "YYYY-MM-DD"),
        ("--check-out", "YYYY-MM-DD"),
        ("--city", "city of the cab pickup"),
        ("--pickup-time", "RFC 3339, e.g. 2027-03-01T18:00:00Z"),
        ("--pickup-address", "where the cab collects you"),
        ("--dropoff-address", "where the ride ends"),
    ]:
        book.add_argument(flag, required=True, help=text)
    book.add_argument("--seats", type=int, default=1)
    book.add_argument("--rooms", type=int, default=1)
    book.add_argument("--wait", action="store_true", help="return once the trip is confirmed or failed")

    for name, text in [("get", "show a trip"), ("watch", "stream a trip's changes until it ends")]:
        commands.add_parser(name, help=text).add_argument("trip_id")
    cancel = commands.add_parser("cancel", help="cancel a trip that has not started")
    cancel.add_argument("trip_id")
    cancel.add_argument("--reason", default="")

    listing = commands.add_parser(
        "list", help="list trips: open ones first, then ended ones, most recent first"
    )
    listing.add_argument("--customer", default="")
    listing.add_argument("--status", default="", help="BOOKING, CONFIRMED, FAILED, ... (default any)")
    listing.add_argument("--page-size", type=int, default=0)
    listing.add_argument("--page-token", default="")
    return parser


def _run(args: argparse.Namespace, stub: trip_pb2_grpc.TripServiceStub) -> None:
    timeout = args.timeout
    if args.command == "book":
        request = trip_pb2.BookTripRequest(
            request_id=args.request_id,
            customer_id=args.customer,
            flight=trip_pb2.FlightRequest(flight_number=args.flight, date=args.date, seats=args.seats),
            hotel=trip_pb2.HotelRequest(
                hotel_id=args.hotel, check_in=args.check_in, check_out=args.check_out, rooms=args.rooms
            ),
            cab=trip_pb2.CabRequest(
                city=args.city,
                pickup_time=args.pickup_time,
                pickup_address=args.pickup_address,
                dropoff_address=args.dropoff_address,
            ),
            wait_for_outcome=args.wait,
        )
        _print(stub.BookTrip(request, timeout=timeout))
    elif args.command == "get":
        _print(stub.GetTrip(trip_pb2.GetTripRequest(trip_id=args.trip_id), timeout=timeout))
    elif args.command == "cancel":
        _print(
            stub.CancelTrip(
                trip_pb2.CancelTripRequest(trip_id=args.trip_id, reason=args.reason), timeout=timeout
            )
        )
    elif args.command == "watch":
        for trip in stub.WatchTrip(trip_pb2.WatchTripRequest(trip_id=args.trip_id)):
            _print(trip)
            sys.stdout.flush()
    elif args.command == "list":
        status = f"TRIP_STATUS_{args.status.upper()}" if args.status else "TRIP_STATUS_UNSPECIFIED"
        request_list = trip_pb2.ListTripsRequest(
            customer_id=args.customer,
            status=trip_pb2.TripStatus.Value(status),
            page_size=args.page_size,
            page_token=args.page_token,
        )
        _print(stub.ListTrips(request_list, timeout=timeout))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = tls.TlsSettings(args.cert, args.key, args.ca)
        settings.check()
        channel = tls.sync_channel(args.address, settings=settings)
    except tls.TlsConfigError as err:
        print(f"tripctl: {err}", file=sys.stderr)
        return 2
    with channel:
        calls = grpc.intercept_channel(channel, BearerToken(args.token)) if args.token else channel
        try:
            _run(args, trip_pb2_grpc.TripServiceStub(calls))
        except grpc.RpcError as err:
            code = err.code().name if hasattr(err, "code") else "UNKNOWN"
            details = err.details() if hasattr(err, "details") else str(err)
            print(f"tripctl: {code}: {details}", file=sys.stderr)
            return 1
        except ValueError as err:
            print(f"tripctl: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

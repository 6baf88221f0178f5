"""`python -m orchestrator.server`: the TripService gRPC API on ORCHESTRATOR_ADDR.

It holds no state of its own: every trip lives in Temporal, so any number of API replicas can run
side by side. Health, reflection, the JSON call log and graceful drain come from booking_runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from booking_runtime.server import ServerSpec, log_event, run, run_server
from orchestrator import auth, codec
from orchestrator.config import Settings, parse_settings
from orchestrator.observability import api_call_metrics, trip_id_of_trip_request
from orchestrator.servicer import TripServicer
from orchestrator.temporal_client import connect_and_prepare

SERVICE_NAME = trip_pb2.DESCRIPTOR.services_by_name["TripService"].full_name


async def serve(settings: Settings) -> None:
    # BookTrip starts trips with the search attributes set: they must exist even before a worker ran.
    protection = codec.from_env()  # TRIP_CODEC_KEYS; None: no codec
    client, added = await connect_and_prepare(settings, protection)
    if added:
        log_event("trip", "search_attributes_added", names=added)
    servicer = TripServicer(
        client,
        settings.task_queue,
        step_budget_seconds=settings.step_budget_seconds,
        attempt_timeout_seconds=settings.attempt_timeout_seconds,
        hasher=protection.hasher if protection else None,
    )

    def register(server: grpc.aio.Server) -> None:
        trip_pb2_grpc.add_TripServiceServicer_to_server(servicer, server)

    await run_server(
        ServerSpec(
            name="trip",
            address=settings.orchestrator_addr,
            service_names=[SERVICE_NAME],
            register=register,
            # TRIP_AUTH=jwt: the token check; unset: no interceptor at all.
            interceptors=auth.interceptors_from_env(client, protection.hasher if protection else None),
            metrics=api_call_metrics(client, settings.metrics_addr),
            trip_id_of=trip_id_of_trip_request,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(
        "python -m orchestrator.server",
        "Serve tripbooking.trip.v1.TripService (BookTrip, GetTrip, ...).",
        argv,
    )
    run(lambda: serve(settings), telemetry_name="trip-api")


if __name__ == "__main__":
    main()

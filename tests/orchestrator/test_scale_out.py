"""Scale-out through real processes, started as `make up --replicas 2 --workers 2 --apis 2` starts them.

Two replicas of each booking service on one PostgreSQL database, two workers, two TripService APIs.
Trips are booked through both APIs until every replica and every worker has done work; then one
replica of each service is killed (SIGKILL) while trips are under way and more trips are booked. Every
trip confirms, the trips booked after the kill were served whole by the surviving replicas, and each
service holds exactly one booking per step and exactly the inventory the confirmed trips took.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc
from tripbooking.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from orchestrator.channels import open_channel
from orchestrator.models import trip_id_for
from scripts.stack import Stack, StackOptions, StackPorts
from scripts.stack_scale import Scale, instance_names
from tests.orchestrator.trips import TripRequests
from tests.support import postgres
from tests.support.processes import ROOT
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]

SCALE = Scale(flight=2, hotel=2, cab=2, workers=2, apis=2)
BOOK_METHOD = {"flight": "BookFlight", "hotel": "ReserveHotel", "cab": "ScheduleCab"}
KILLED = ("flight-2", "hotel-2", "cab-2")
MAX_WARMUP_TRIPS = 40
book_request = TripRequests(first_day=10, spacing=3, prefix="scale", customer="scale")


class Clients:
    """Stubs on round-robin channels over every replica (a dead one is skipped), and both APIs."""

    def __init__(self, stack: Stack) -> None:
        self.channels = {
            p: open_channel(",".join(stack.instance_addresses(p))) for p in ("flight", "hotel", "cab")
        }
        self.api_channels = [grpc.aio.insecure_channel(a) for a in stack.instance_addresses("api")]
        self.apis = [trip_pb2_grpc.TripServiceStub(c) for c in self.api_channels]
        self.flight = flight_pb2_grpc.FlightServiceStub(self.channels["flight"])
        self.hotel = hotel_pb2_grpc.HotelServiceStub(self.channels["hotel"])
        self.cab = cab_pb2_grpc.CabServiceStub(self.channels["cab"])

    async def close(self) -> None:
        for channel in [*self.channels.values(), *self.api_channels]:
            await channel.close(None)

    async def held(self, request: trip_pb2.BookTripRequest) -> tuple[int, int, int]:
        """Seats, rooms and cabs still free for this trip's flight, stay and pickup hour."""
        flights = await self.flight.SearchFlights(
            flight_pb2.SearchFlightsRequest(origin="LHR", destination="LIS", date=request.flight.date)
        )
        hotels = await self.hotel.SearchHotels(
            hotel_pb2.SearchHotelsRequest(
                city="Lisbon", check_in=request.hotel.check_in, check_out=request.hotel.check_out
            )
        )
        cabs = await self.cab.SearchCabs(
            cab_pb2.SearchCabsRequest(city="Lisbon", pickup_time=request.cab.pickup_time)
        )
        seats = next(f.seats_available for f in flights.flights if f.flight_number == "TB101")
        rooms = next(h.rooms_available for h in hotels.hotels if h.hotel_id == request.hotel.hotel_id)
        return seats, rooms, cabs.cabs_available

    async def statuses(self, trip: trip_pb2.Trip) -> dict[str, str]:
        """Each step's booking as its service records it (BOOKED / CANCELLED)."""
        flight = await self.flight.GetFlightBooking(
            flight_pb2.GetFlightBookingRequest(idempotency_key=trip.steps[0].idempotency_key)
        )
        hotel = await self.hotel.GetHotelReservation(
            hotel_pb2.GetHotelReservationRequest(idempotency_key=trip.steps[1].idempotency_key)
        )
        cab = await self.cab.GetCabBooking(
            cab_pb2.GetCabBookingRequest(idempotency_key=trip.steps[2].idempotency_key)
        )
        return {
            "flight": flight_pb2.BookingStatus.Name(flight.status),
            "hotel": hotel_pb2.BookingStatus.Name(hotel.status),
            "cab": cab_pb2.BookingStatus.Name(cab.status),
        }


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    await postgres.require_server()
    dsn = await postgres.create_database("tripbooking_scale")
    state = tmp_path_factory.mktemp("scale")
    options = StackOptions(
        ports=StackPorts.free(), state_dir=state, log_dir=state / "logs", scale=SCALE, postgres_dsn=dsn
    )
    try:
        async with Stack(options) as running:
            yield running
    finally:
        await postgres.drop_database(dsn)


def booked_keys(stack: Stack, name: str, service: str) -> set[str]:
    """Idempotency keys a process's call log shows booked (code OK) by `service`'s book method."""
    assert stack.options.log_dir is not None
    log = stack.options.log_dir / f"{name}.log"
    keys = set()
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if line.startswith("{") and BOOK_METHOD[service] in line:
            entry = json.loads(line)
            if entry.get("code") == "OK" and "idempotency_key" in entry:
                keys.add(entry["idempotency_key"])
    return keys


async def worker_identities(client: Client, trip_ids: list[str]) -> set[str]:
    """The identities (`pid@host`) of the workers that completed the trips' workflow tasks."""
    found: set[str] = set()
    for trip_id in trip_ids:
        history = await client.get_workflow_handle(trip_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                found.add(event.workflow_task_completed_event_attributes.identity)
    return found


async def book(clients: Clients, requests: list[trip_pb2.BookTripRequest]) -> list[trip_pb2.BookTripResponse]:
    """BookTrip for each request, alternating between the APIs."""
    return list(
        await asyncio.gather(
            *(clients.apis[i % len(clients.apis)].BookTrip(r, timeout=120) for i, r in enumerate(requests))
        )
    )


async def test_replicas_workers_and_apis_all_work_and_a_killed_replica_fails_over(stack: Stack) -> None:
    clients = Clients(stack)
    try:
        await _scale_out(stack, clients)
    finally:
        await clients.close()


async def _scale_out(stack: Stack, clients: Clients) -> None:
    requests: list[trip_pb2.BookTripRequest] = []
    before: dict[str, tuple[int, int, int]] = {}
    worker_pids = {stack.pids()[name] for name in instance_names("worker", SCALE.workers)}
    client = await Client.connect(stack.temporal_address)

    async def book_more(count: int, wait: bool) -> list[trip_pb2.BookTripRequest]:
        batch = [book_request(wait=wait) for _ in range(count)]
        for request in batch:
            before[request.request_id] = await clients.held(request)
        requests.extend(batch)
        await book(clients, batch)
        return batch

    # 1. Book (two at a time, one per API) until every replica and every worker has done some work.
    async def everyone_worked() -> bool:
        assert len(requests) < MAX_WARMUP_TRIPS, "some process never got any work"
        await book_more(2, wait=True)
        replicas_idle = [
            name
            for service in BOOK_METHOD
            for name in instance_names(service, SCALE.replicas(service))
            if not booked_keys(stack, name, service)
        ]
        identities = await worker_identities(client, ids(requests))
        workers = {int(identity.split("@", 1)[0]) for identity in identities}
        apis_idle = [name for name in instance_names("api", SCALE.apis) if not api_calls(stack, name)]
        return not replicas_idle and workers >= worker_pids and not apis_idle

    await wait_for(everyone_worked, timeout=240, interval=0, what="work on every replica, worker and API")

    # 2. Kill one replica of each service while trips are under way, then book more.
    in_flight = await book_more(6, wait=False)
    for name in KILLED:
        child = next(c for c in stack.children if c.name == name)
        assert child.process is not None
        child.process.kill()
        await child.wait()
    after_kill = await book_more(6, wait=True)

    # 3. Every trip confirms; every step is booked once, and only what the trips took is gone.
    async def all_confirmed() -> list[trip_pb2.Trip] | None:
        trips = await asyncio.gather(
            *(clients.apis[0].GetTrip(trip_pb2.GetTripRequest(trip_id=i), timeout=30) for i in ids(requests))
        )
        return list(trips) if all(t.status == trip_pb2.TRIP_STATUS_CONFIRMED for t in trips) else None

    trips = await wait_for(all_confirmed, timeout=180, interval=0.5, what="every trip confirmed")
    for request, trip in zip(requests, trips, strict=True):
        assert await clients.statuses(trip) == {"flight": "BOOKED", "hotel": "BOOKED", "cab": "BOOKED"}
        seats, rooms, cabs = before[request.request_id]
        assert await clients.held(request) == (seats - 2, rooms - 1, cabs - 1), request.request_id

    # The trips booked after the kill were served by the surviving replicas, whole.
    by_trip = {t.trip_id: t for t in trips}
    for service, step in zip(BOOK_METHOD, range(3), strict=True):
        survivors = set().union(
            *(booked_keys(stack, n, service) for n in instance_names(service, 2) if n not in KILLED)
        )
        for request in after_kill:
            assert by_trip[trip_id_for(request.request_id)].steps[step].idempotency_key in survivors
    assert len(in_flight) == 6  # settled above with the rest, whatever the kill interrupted


def ids(requests: list[trip_pb2.BookTripRequest]) -> list[str]:
    return [trip_id_for(r.request_id) for r in requests]


def api_calls(stack: Stack, name: str) -> bool:
    """Whether the API process `name` logged a BookTrip call."""
    assert stack.options.log_dir is not None
    log: Path = stack.options.log_dir / f"{name}.log"
    return log.exists() and "BookTrip" in log.read_text(errors="replace")


async def test_the_worker_probe_sees_this_hosts_workers(stack: Stack) -> None:
    """`python -m orchestrator.worker_probe` (the worker's container probe) asks Temporal for pollers."""
    env = {**os.environ, **stack.child_env()}

    async def probe(task_queue: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.worker_probe", "--timeout", "20",
            env={**env, "TRIP_TASK_QUEUE": task_queue}, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return await asyncio.wait_for(process.wait(), 60)

    assert await probe(stack.options.task_queue) == 0
    assert await probe("a-queue-nobody-polls") == 1

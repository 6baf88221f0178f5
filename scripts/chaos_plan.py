"""What a chaos run does, decided up front from one seed: the trips clients send and the faults injected.

Everything random in `make chaos` comes from here, so a seed names a run: the same seed gives the same
trips (bodies, duplicates, changed bodies, cancels, contended stays) and the same sequence of faults
(kind, target, gaps, downtimes). Timing against the real processes still varies from run to run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tripbooking.trip.v1 import trip_pb2

from scripts.stack_scale import instance_names

ROOT = Path(__file__).resolve().parent.parent
# A hotel with two rooms: the trips of a contended group ask for more nights there than it has rooms.
TINY_HOTEL = "lis-tiny-inn"
SERVICES = ("flight", "hotel", "cab")

# Fault kinds, and how often each is drawn (relative weights).
KILL_SERVICE = "kill_service"  # SIGKILL a booking service, restart it after a downtime
SERVICE_FAULTS = "service_faults"  # restart a service with lost requests or lost replies for a while
KILL_WORKER = "kill_worker"
KILL_API = "kill_api"
KILL_TEMPORAL = "kill_temporal"  # SIGKILL the dev server, restart it on its db file and port
KILL_TEMPORAL_AND_WORKER = "kill_temporal_and_worker"  # both within a second or two: issue 8's window
# A node dies: Temporal, the worker and one booking service at once. Temporal and the worker come back
# first, the service 2-10 s later, so a workflow task lost with its bookings is replayed against a
# service that is still down: the exact window of issue 8.
KILL_NODE = "kill_node"
# A graceful restart (SIGTERM: drain, exit; then start again), as a deploy does: calls that arrive
# while the server drains must be answered UNAVAILABLE (issue 9).
RESTART_SERVICE = "restart_service"
RESTART_API = "restart_api"
FAULT_WEIGHTS: dict[str, int] = {
    KILL_SERVICE: 30,
    SERVICE_FAULTS: 20,
    KILL_WORKER: 8,
    KILL_API: 6,
    KILL_TEMPORAL: 10,
    KILL_TEMPORAL_AND_WORKER: 12,
    KILL_NODE: 12,
    RESTART_SERVICE: 8,
    RESTART_API: 4,
}
FAULT_KINDS = tuple(FAULT_WEIGHTS)
# Two sequences of faults run side by side, so that a service is often down while the Temporal server
# or the worker dies: the booking services in one lane, the worker, the API and Temporal in the other.
FAULT_LANES: dict[str, tuple[str, ...]] = {
    "services": (KILL_SERVICE, SERVICE_FAULTS, RESTART_SERVICE),
    "core": (KILL_WORKER, KILL_API, KILL_TEMPORAL, KILL_TEMPORAL_AND_WORKER, KILL_NODE, RESTART_API),
}
# The booking and cancel methods of each service: the ones its fault variables aim at.
FAULT_METHODS = {
    "flight": "BookFlight,CancelFlightBooking",
    "hotel": "ReserveHotel,CancelHotelReservation",
    "cab": "ScheduleCab,CancelCab",
}


def instance_name(part: str, number: int) -> str:
    """The stack's name of instance `number` (from 1) of a part: `flight`, `flight-2`, ..."""
    return instance_names(part, number)[number - 1]


def part_of(name: str) -> str:
    """`flight-2` -> `flight`, `worker` -> `worker`: the part a child of the stack is an instance of."""
    part, _, number = name.rpartition("-")
    return part if part and number.isdigit() else name


def body_of(customer_id: str, flight: Any, hotel: Any) -> str:
    """What tells two bodies of one request_id apart (a changed body differs in customer and seats)."""
    return (
        f"{customer_id}|{flight.flight_number}|{flight.date}|{flight.seats}|"
        f"{hotel.hotel_id}|{hotel.check_in}|{hotel.check_out}|{hotel.rooms}"
    )


@dataclass(frozen=True)
class TripPlan:
    """One trip as its client will send it."""

    index: int
    request: trip_pb2.BookTripRequest
    duplicates: int = 0  # extra identical BookTrip calls sent at the same moment
    changed_body: trip_pb2.BookTripRequest | None = None  # same request_id, other body, at the same moment
    cancel_after: float | None = None  # seconds after BookTrip's first OK answer to send CancelTrip
    contended: bool = False  # one of a group asking for more of the tiny hotel than it has

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def trip_id(self) -> str:
        return f"trip-{self.request.request_id}"


@dataclass(frozen=True)
class FaultEvent:
    """One fault: what, on which part, after how long a pause, for how long."""

    kind: str
    target: str  # a service name, "worker", "api", "temporal", "temporal+worker", or "node+<service>"
    gap: float  # seconds of calm before it
    down: float  # seconds the part stays dead (or, for service_faults, how long the faults last)
    order: str = ""  # kill_temporal_and_worker: "worker-first" or "temporal-first"
    between: float = 0.0  # kill_temporal_and_worker: seconds between the two kills
    phase: str = ""  # service_faults: "before" (lost request) or "after" (lost reply)
    rate: float = 0.0  # service_faults: share of the service's booking and cancel calls that fail
    # kill_temporal: if > 0, kill it again this many seconds after it is back (a server that flaps, as
    # in issue 9's reproduction), and restart it after `down_again`.
    again: float = 0.0
    down_again: float = 0.0
    service_down: float = 0.0  # kill_node: how much longer than Temporal and the worker the service is down
    # Scaled runs: which replica of the service or API (1: the first, named like the part itself) and
    # which worker the fault hits; 1 in a run of one of each.
    replica: int = 1
    worker: int = 1

    @property
    def service(self) -> str:
        """The booking service a services-lane fault or a node kill hits ("" for the others)."""
        service = self.target.removeprefix("node+")
        return service if service in SERVICES else ""

    @property
    def victims(self) -> list[str]:
        """The processes (the stack's child names) the fault kills or restarts, in the order it does."""
        worker = instance_name("worker", self.worker)
        if self.kind == KILL_TEMPORAL:
            return ["temporal"]
        if self.kind == KILL_WORKER:
            return [worker]
        if self.kind in (KILL_API, RESTART_API):
            return [instance_name("api", self.replica)]
        if self.kind == KILL_TEMPORAL_AND_WORKER:
            return ["temporal", worker] if self.order == "temporal-first" else [worker, "temporal"]
        if self.kind == KILL_NODE:
            return ["temporal", worker, instance_name(self.service, self.replica)]
        return [instance_name(self.service, self.replica)]

    def env(self) -> dict[str, str]:
        """The fault variables of booking_runtime.config for a service_faults event."""
        prefix = self.target.upper()
        return {
            f"{prefix}_FAULT_RATE": f"{self.rate:.2f}",
            f"{prefix}_FAULT_PHASE": self.phase,
            f"{prefix}_FAULT_METHODS": FAULT_METHODS[self.target],
        }


@dataclass(frozen=True)
class Catalogs:
    """The ids a trip may name, from the services' catalog files."""

    flights: Sequence[str]
    hotels: Sequence[str]
    cities: Sequence[str]

    @classmethod
    def load(cls, root: Path = ROOT) -> Catalogs:
        def ids(service: str, key: str) -> list[str]:
            items = json.loads((root / f"{service}_svc" / "catalog.json").read_text())
            return sorted(str(item[key]) for item in items)

        hotels = [h for h in ids("hotel", "hotel_id") if h != TINY_HOTEL]
        return cls(ids("flight", "flight_number"), hotels, ids("cab", "city"))


@dataclass(frozen=True)
class PlanOptions:
    trips: int = 300
    seed: int = 7
    first_day: int = 2  # days from today of the earliest flight (a trip can be cancelled until it starts)
    last_day: int = 330
    duplicate_share: float = 0.12
    changed_body_share: float = 0.05
    cancel_share: float = 0.12
    contended_share: float = 0.10
    no_wait_share: float = 0.3  # BookTrip without wait_for_outcome (cancel trips never wait)
    fault_interval: float = 3.0  # mean seconds between two faults of one lane
    kinds: Sequence[str] = FAULT_KINDS
    weights: dict[str, int] = field(default_factory=lambda: dict(FAULT_WEIGHTS))
    replicas: int = 1  # replicas of each booking service
    workers: int = 1
    apis: int = 1

    @property
    def scaled(self) -> bool:
        return max(self.replicas, self.workers, self.apis) > 1


def plan_trips(options: PlanOptions, today: date, catalogs: Catalogs) -> list[TripPlan]:
    """The trips of a run, in the order their clients start."""
    rng = random.Random(f"trips-{options.seed}")
    plans: list[TripPlan] = []
    index = 0
    while index < options.trips:
        if rng.random() < options.contended_share and options.trips - index >= 3:
            # Three trips want the tiny hotel on the same nights: 4 rooms asked, 2 there.
            day = today + timedelta(days=rng.randint(options.first_day, options.last_day))
            for rooms in rng.sample([1, 1, 2], 3):
                plans.append(_plan(options, rng, catalogs, index, day, hotel=TINY_HOTEL, rooms=rooms))
                index += 1
            continue
        day = today + timedelta(days=rng.randint(options.first_day, options.last_day))
        plans.append(_plan(options, rng, catalogs, index, day))
        index += 1
    return plans


def _plan(
    options: PlanOptions,
    rng: random.Random,
    catalogs: Catalogs,
    index: int,
    day: date,
    *,
    hotel: str | None = None,
    rooms: int = 1,
) -> TripPlan:
    cancel_after = round(rng.uniform(0.0, 4.0), 2) if rng.random() < options.cancel_share else None
    wait = cancel_after is None and rng.random() >= options.no_wait_share
    nights = rng.randint(1, 3)
    request = trip_pb2.BookTripRequest(
        request_id=f"chaos-{options.seed}-{index:05d}",
        customer_id=f"chaos-customer-{index % 97:02d}",
        flight=trip_pb2.FlightRequest(
            flight_number=rng.choice(catalogs.flights), date=day.isoformat(), seats=rng.randint(1, 2)
        ),
        hotel=trip_pb2.HotelRequest(
            hotel_id=hotel or rng.choice(catalogs.hotels),
            check_in=day.isoformat(),
            check_out=(day + timedelta(days=nights)).isoformat(),
            rooms=rooms,
        ),
        cab=trip_pb2.CabRequest(
            city=rng.choice(catalogs.cities),
            pickup_time=f"{day.isoformat()}T{rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}:00Z",
            pickup_address="Arrivals, gate 2",
            dropoff_address=f"Hotel {index}",
        ),
        wait_for_outcome=wait,
    )
    duplicates = rng.randint(1, 2) if rng.random() < options.duplicate_share else 0
    changed = None
    if rng.random() < options.changed_body_share:
        changed = trip_pb2.BookTripRequest()
        changed.CopyFrom(request)
        changed.customer_id = request.customer_id + "-other"
        changed.flight.seats = 3 - request.flight.seats
    return TripPlan(index, request, duplicates, changed, cancel_after, contended=hotel == TINY_HOTEL)


def fault_events(options: PlanOptions, lane: str) -> Iterator[FaultEvent]:
    """The faults of one lane of a run, for as long as the run draws them (an endless seeded sequence).

    In a scaled run each fault hits one replica, one API and one worker, drawn from a stream of their
    own: the kinds, gaps and downtimes are those of the same seed with one of each.
    """
    rng = random.Random(f"faults-{options.seed}-{lane}")
    pick = random.Random(f"instances-{options.seed}-{lane}")
    for event in _events(options, lane, rng):
        replicas = options.apis if event.kind in (KILL_API, RESTART_API) else options.replicas
        yield replace(event, replica=pick.randint(1, replicas), worker=pick.randint(1, options.workers))


def _events(options: PlanOptions, lane: str, rng: random.Random) -> Iterator[FaultEvent]:
    kinds = [k for k in FAULT_LANES[lane] if k in options.kinds and options.weights.get(k, 0) > 0]
    if not kinds:
        return
    weights = [options.weights[k] for k in kinds]
    while True:
        kind = rng.choices(kinds, weights)[0]
        gap = round(rng.uniform(0.5, 1.5) * options.fault_interval, 2)
        down = round(rng.uniform(0.5, 4.0), 2)
        if kind == KILL_SERVICE:
            yield FaultEvent(kind, rng.choice(SERVICES), gap, down)
        elif kind == SERVICE_FAULTS:
            yield FaultEvent(
                kind,
                rng.choice(SERVICES),
                gap,
                round(rng.uniform(5.0, 20.0), 2),
                phase=rng.choice(("before", "after")),
                rate=round(rng.uniform(0.2, 0.5), 2),
            )
        elif kind == KILL_WORKER:
            yield FaultEvent(kind, "worker", gap, down)
        elif kind == RESTART_SERVICE:
            yield FaultEvent(kind, rng.choice(SERVICES), gap, round(rng.uniform(0.0, 1.0), 2))
        elif kind == RESTART_API:
            yield FaultEvent(kind, "api", gap, round(rng.uniform(0.0, 1.0), 2))
        elif kind == KILL_API:
            yield FaultEvent(kind, "api", gap, round(rng.uniform(0.2, 2.0), 2))
        elif kind == KILL_TEMPORAL:
            again = round(rng.uniform(1.0, 3.0), 2) if rng.random() < 0.5 else 0.0
            down_again = round(rng.uniform(0.5, 1.5), 2) if again else 0.0
            yield FaultEvent(kind, "temporal", gap, down, again=again, down_again=down_again)
        elif kind == KILL_NODE:
            service = rng.choice(SERVICES)
            yield FaultEvent(
                kind, f"node+{service}", gap, down, service_down=round(rng.uniform(2.0, 10.0), 2)
            )
        else:
            order = rng.choice(("worker-first", "temporal-first"))
            between = round(rng.uniform(0.0, 1.5), 2)
            yield FaultEvent(kind, "temporal+worker", gap, down, order=order, between=between)

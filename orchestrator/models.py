"""Plain dataclasses shared by the workflow, the activities and the API.

They cross Temporal's JSON payload converter and the workflow sandbox (passed through), so they hold
only standard types: no protobuf, no grpc. The enums carry the proto enum names as values, which makes
the proto conversion and the `TripStatus` search attribute a plain string copy.

No `from __future__ import annotations` here: the payload converter reads each dataclass's field
types with typing.get_type_hints on every decode, and string annotations make it compile them
again each time (docs/performance.md, "Worker", has what that costs).
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum


class TripStatus(StrEnum):
    BOOKING = "TRIP_STATUS_BOOKING"
    CONFIRMED = "TRIP_STATUS_CONFIRMED"
    COMPENSATING = "TRIP_STATUS_COMPENSATING"
    FAILED = "TRIP_STATUS_FAILED"
    CANCELLED = "TRIP_STATUS_CANCELLED"
    COMPLETED = "TRIP_STATUS_COMPLETED"


class StepStatus(StrEnum):
    PENDING = "STEP_STATUS_PENDING"
    IN_PROGRESS = "STEP_STATUS_IN_PROGRESS"
    BOOKED = "STEP_STATUS_BOOKED"
    FAILED = "STEP_STATUS_FAILED"
    COMPENSATING = "STEP_STATUS_COMPENSATING"
    COMPENSATED = "STEP_STATUS_COMPENSATED"


TERMINAL_STATUSES = frozenset({TripStatus.FAILED, TripStatus.CANCELLED, TripStatus.COMPLETED})
# What a BookTrip with wait_for_outcome waits for: the saga has either booked everything or given up.
OUTCOME_STATUSES = TERMINAL_STATUSES | {TripStatus.CONFIRMED}


@dataclass(frozen=True)
class FlightSpec:
    flight_number: str
    date: str
    seats: int


@dataclass(frozen=True)
class HotelSpec:
    hotel_id: str
    check_in: str
    check_out: str
    rooms: int


@dataclass(frozen=True)
class CabSpec:
    city: str
    pickup_time: str
    pickup_address: str
    dropoff_address: str


@dataclass(frozen=True)
class TripRequest:
    """What the customer asked for (a validated BookTripRequest without wait_for_outcome)."""

    request_id: str
    customer_id: str
    flight: FlightSpec
    hotel: HotelSpec
    cab: CabSpec

    def fingerprint(self) -> str:
        """Stable digest of the request: a reused request_id with other content is told apart by it."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def starts_at(self) -> datetime:
        """The trip has started (and can no longer be cancelled) from the flight day, 00:00 UTC."""
        return datetime.combine(date.fromisoformat(self.flight.date), time(0, 0), tzinfo=UTC)

    def ends_at(self) -> datetime:
        """A confirmed trip completes on the check-out day at 12:00 UTC."""
        return datetime.combine(date.fromisoformat(self.hotel.check_out), time(12, 0), tzinfo=UTC)


def trip_id_for(request_id: str) -> str:
    """Workflow id of the trip booked with `request_id`: one request_id, one workflow."""
    return f"trip-{request_id}"


def step_key(trip_id: str, step: str) -> str:
    """Idempotency key of a step at its service; deterministic so retries and replays never book twice."""
    return f"{trip_id}:{step}"


@dataclass(frozen=True)
class TripInput:
    """TripWorkflow's start argument."""

    trip_id: str
    request: TripRequest
    fingerprint: str
    # How long a booking step may keep retrying retryable errors before it counts as failed.
    step_budget_seconds: float = 600.0
    # start_to_close of one call to a service (the gRPC deadline is a little shorter).
    attempt_timeout_seconds: float = 10.0


@dataclass
class StepState:
    name: str
    idempotency_key: str
    status: StepStatus = StepStatus.PENDING
    confirmation_id: str = ""
    attempts: int = 0
    last_error: str = ""
    price_cents: int = 0
    currency: str = ""


@dataclass
class TripState:
    """Everything GetTrip shows; the workflow's `get_trip` query returns it."""

    trip_id: str
    request: TripRequest
    fingerprint: str
    status: TripStatus
    steps: list[StepState]
    created_at: datetime
    updated_at: datetime
    ends_at: datetime
    failure_reason: str = ""
    # Bumped on every change, so WatchTrip emits only real changes.
    version: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def step(self, name: str) -> StepState:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


@dataclass(frozen=True)
class AttachRequest:
    """BookTrip's update: join the trip (started or found) and optionally wait for its outcome."""

    fingerprint: str
    wait_for_outcome: bool = False


@dataclass(frozen=True)
class CancelRequest:
    reason: str = ""


# Activity inputs and output.


@dataclass(frozen=True)
class BookFlightInput:
    idempotency_key: str
    customer_id: str
    flight: FlightSpec


@dataclass(frozen=True)
class ReserveHotelInput:
    idempotency_key: str
    customer_id: str
    hotel: HotelSpec


@dataclass(frozen=True)
class ScheduleCabInput:
    idempotency_key: str
    customer_id: str
    cab: CabSpec


@dataclass(frozen=True)
class CancelStepInput:
    idempotency_key: str


@dataclass(frozen=True)
class StepConfirmation:
    confirmation_id: str
    price_cents: int = 0
    currency: str = ""

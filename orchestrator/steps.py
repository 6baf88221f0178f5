"""The saga's steps, declared once: each step's activities (name, input, output) and its row in STEPS.

`TripActivities` is the activity interface. The workflow calls its methods by reference
(`workflow.execute_local_activity_method(TripActivities.book_flight, ...)`), so jump-to-definition
leads here, and from here to the implementations: `orchestrator.activities.BookingActivities` (gRPC
calls to the services) and the tests' `FakeServices`. An implementation overrides the methods without
repeating `@activity.defn`: each override is registered under the name declared here.

The activity names are in every recorded history (a local activity's marker names it): never rename
one while trips that used it may still be open (tests/orchestrator/test_replay.py).

No grpc here: the workflow imports this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from temporalio import activity

from orchestrator.models import (
    BookFlightInput,
    CancelStepInput,
    ReserveHotelInput,
    ScheduleCabInput,
    StepConfirmation,
    TripRequest,
)


class TripActivities(ABC):
    """The six activities: each step's booking and its cancellation by idempotency key.

    A failed call raises an ApplicationError whose `type` is the gRPC status code name (or the call
    times out); the workflow judges it with orchestrator.retry.
    """

    @activity.defn(name="book_flight")
    @abstractmethod
    async def book_flight(self, step: BookFlightInput) -> StepConfirmation: ...

    @activity.defn(name="cancel_flight")
    @abstractmethod
    async def cancel_flight(self, step: CancelStepInput) -> StepConfirmation: ...

    @activity.defn(name="reserve_hotel")
    @abstractmethod
    async def reserve_hotel(self, step: ReserveHotelInput) -> StepConfirmation: ...

    @activity.defn(name="cancel_hotel")
    @abstractmethod
    async def cancel_hotel(self, step: CancelStepInput) -> StepConfirmation: ...

    @activity.defn(name="schedule_cab")
    @abstractmethod
    async def schedule_cab(self, step: ScheduleCabInput) -> StepConfirmation: ...

    @activity.defn(name="cancel_cab")
    @abstractmethod
    async def cancel_cab(self, step: CancelStepInput) -> StepConfirmation: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register each override under the activity name its declaration above carries."""
        super().__init_subclass__(**kwargs)
        for attribute, declared in vars(TripActivities).items():
            override = vars(cls).get(attribute)
            if override is None or not is_activity(declared) or is_activity(override):
                continue
            setattr(cls, attribute, activity.defn(name=activity_name(declared))(override))

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this implementation, for Worker(activities=...): each step's two."""
        return [getattr(self, method.__name__) for step in STEPS for method in (step.book, step.cancel)]


def is_activity(function: Callable[..., Any]) -> bool:
    return hasattr(function, "__temporal_activity_definition")


def activity_name(method: Callable[..., Any]) -> str:
    """The activity name a method was declared with (the SDK keeps it on the function)."""
    name = activity._Definition.must_from_callable(method).name
    assert name is not None  # no dynamic activities here
    return name


Input = TypeVar("Input")
# A method of TripActivities taking one input and confirming (TripActivities.book_flight, ...).
StepActivity = Callable[[TripActivities, Input], Awaitable[StepConfirmation]]


@dataclass(frozen=True)
class Step(Generic[Input]):
    """One step of the saga: its name (GetTrip's step name), how to book it and how to undo it."""

    name: str
    book: StepActivity[Input]
    cancel: StepActivity[CancelStepInput]
    # The booking activity's input, from the step's idempotency key and the customer's request.
    booking: Callable[[str, TripRequest], Input]


# Booking order; compensation runs the other way round.
STEPS: tuple[Step[Any], ...] = (
    Step(
        "flight",
        TripActivities.book_flight,
        TripActivities.cancel_flight,
        lambda key, trip: BookFlightInput(key, trip.customer_id, trip.flight),
    ),
    Step(
        "hotel",
        TripActivities.reserve_hotel,
        TripActivities.cancel_hotel,
        lambda key, trip: ReserveHotelInput(key, trip.customer_id, trip.hotel),
    ),
    Step(
        "cab",
        TripActivities.schedule_cab,
        TripActivities.cancel_cab,
        lambda key, trip: ScheduleCabInput(key, trip.customer_id, trip.cab),
    ),
)

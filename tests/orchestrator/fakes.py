"""Scriptable stand-ins for the six booking activities: another implementation of TripActivities
(orchestrator/steps.py), so they are registered under the real names.

A test says what each call should do (succeed, refuse, fail transiently, hang) and afterwards reads
`calls` to check exactly what the saga did, in order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from orchestrator.models import (
    BookFlightInput,
    CabSpec,
    CancelStepInput,
    FlightSpec,
    HotelSpec,
    ReserveHotelInput,
    ScheduleCabInput,
    StepConfirmation,
    TripInput,
    TripRequest,
    trip_id_for,
)
from orchestrator.steps import TripActivities

# One scripted answer: a confirmation, an error to raise, or HANG (wait until cancelled or timed out).
HANG = "hang"
Answer = StepConfirmation | BaseException | str


def refusal(code: str = "FAILED_PRECONDITION", reason: str = "SOLD_OUT") -> ApplicationError:
    return ApplicationError(f"{code} ({reason}): refused", type=code, non_retryable=True)


def transient(code: str = "UNAVAILABLE") -> ApplicationError:
    return ApplicationError(f"{code}: try again", type=code)


@dataclass
class FakeServices(TripActivities):
    # activity name -> answers for successive calls; when exhausted, calls succeed.
    script: dict[str, list[Answer]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    # What the services would hold: idempotency key -> BOOKED or CANCELLED (a cancel of a key never
    # booked leaves a CANCELLED tombstone, and a later booking with that key is refused, as the real
    # services do).
    ledger: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Activity names in call order."""
        return [name for name, _ in self.calls]

    def held(self) -> list[str]:
        """Keys booked and not cancelled: what a failed or cancelled trip must leave empty."""
        return sorted(key for key, status in self.ledger.items() if status == "BOOKED")

    async def _answer(self, key: str) -> StepConfirmation:
        """Answer the running activity's call, by its name, as scripted."""
        name = activity.info().activity_type
        self.calls.append((name, key))
        answers = self.script.get(name, [])
        answer: Answer = answers.pop(0) if answers else StepConfirmation(f"{key}#conf", 1000, "EUR")
        if isinstance(answer, BaseException):
            raise answer
        if answer == HANG:
            await asyncio.Event().wait()
        assert isinstance(answer, StepConfirmation)
        if name.startswith("cancel_"):
            self.ledger[key] = "CANCELLED"
        elif self.ledger.get(key) == "CANCELLED":
            raise refusal("FAILED_PRECONDITION", "ALREADY_CANCELLED")
        else:
            self.ledger[key] = "BOOKED"
        return answer

    async def book_flight(self, step: BookFlightInput) -> StepConfirmation:
        return await self._answer(step.idempotency_key)

    async def cancel_flight(self, step: CancelStepInput) -> StepConfirmation:
        return await self._answer(step.idempotency_key)

    async def reserve_hotel(self, step: ReserveHotelInput) -> StepConfirmation:
        return await self._answer(step.idempotency_key)

    async def cancel_hotel(self, step: CancelStepInput) -> StepConfirmation:
        return await self._answer(step.idempotency_key)

    async def schedule_cab(self, step: ScheduleCabInput) -> StepConfirmation:
        return await self._answer(step.idempotency_key)

    async def cancel_cab(self, step: CancelStepInput) -> StepConfirmation:
        return await self._answer(step.idempotency_key)


def trip_request(request_id: str, now: datetime, days_ahead: int = 30) -> TripRequest:
    start = (now.astimezone(UTC) + timedelta(days=days_ahead)).date()
    end = start + timedelta(days=3)
    return TripRequest(
        request_id=request_id,
        customer_id="alice",
        flight=FlightSpec("TB101", start.isoformat(), 1),
        hotel=HotelSpec("lis-alfama-lodge", start.isoformat(), end.isoformat(), 1),
        cab=CabSpec("Lisbon", f"{start.isoformat()}T18:00:00Z", "Airport", "Alfama"),
    )


def trip_input(
    request_id: str,
    now: datetime,
    *,
    budget: float = 60.0,
    attempt_timeout: float = 5.0,
    days_ahead: int = 30,
) -> TripInput:
    request = trip_request(request_id, now, days_ahead)
    return TripInput(
        trip_id=trip_id_for(request_id),
        request=request,
        fingerprint=request.fingerprint(),
        step_budget_seconds=budget,
        attempt_timeout_seconds=attempt_timeout,
    )

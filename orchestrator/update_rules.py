"""Who may join a trip and when it may be cancelled: the rules TripWorkflow's update validators apply.

A validator runs before the update is accepted and writes nothing to the history when it refuses,
so a refused BookTrip or CancelTrip costs the trip nothing. The API turns `RequestMismatch` into
ALREADY_EXISTS and `TripNotCancellable` into FAILED_PRECONDITION with the reason given here.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.exceptions import ApplicationError

from orchestrator.models import TripInput, TripState, TripStatus


class TripNotCancellable(ApplicationError):
    """Raised by the CancelTrip validator; the API turns it into FAILED_PRECONDITION."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason, type="TripNotCancellable", non_retryable=True)


def check_attach(input: TripInput, fingerprint: str) -> None:
    """BookTrip may join this trip only with the request that started it."""
    if fingerprint != input.fingerprint:
        raise ApplicationError(
            f"request_id {input.request.request_id!r} was already used for a different trip",
            type="RequestMismatch",
            non_retryable=True,
        )


def check_cancel(state: TripState, cancelling: bool, now: datetime) -> None:
    """CancelTrip joins a cancel under way; else it is allowed until the trip starts."""
    if cancelling and not state.terminal:
        return  # already being cancelled: join it
    status = state.status
    if state.terminal:
        raise TripNotCancellable("TRIP_ENDED", f"trip already ended {status.name}")
    if status == TripStatus.COMPENSATING:
        raise TripNotCancellable("TRIP_FAILING", "trip is failing: its steps are being undone")
    if now >= state.request.starts_at():
        raise TripNotCancellable("TRIP_STARTED", "trip has already started")

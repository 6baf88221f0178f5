"""TripWorkflow: the saga that books a flight, a hotel and a cab, and undoes them when it must.

Each step is a local activity tried once per call; the workflow owns the retry loop so that a query
shows a step's attempts and last error while it is still retrying. When the trip fails or is
cancelled, every step is undone, newest first: also a step that timed out (it may still have booked)
and a step this history never reached (a workflow task whose completion was lost may have booked it;
docs/reliability.md).

Workflow code is replayed: keep it deterministic, and put any change to the commands it issues behind
`workflow.patched(...)` (tests/orchestrator/test_replay.py guards the recorded histories).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from enum import Enum
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from orchestrator import retry, trip_metrics
    from orchestrator.models import (
        BOOK_ACTIVITY,
        CANCEL_ACTIVITY,
        OUTCOME_STATUSES,
        STEP_NAMES,
        AttachRequest,
        BookFlightInput,
        CancelRequest,
        CancelStepInput,
        ReserveHotelInput,
        ScheduleCabInput,
        StepConfirmation,
        StepState,
        StepStatus,
        TripInput,
        TripState,
        TripStatus,
        step_key,
    )
    from orchestrator.search_attributes import MEMO_TRIP, TRIP_CUSTOMER_ID, TRIP_STATUS

ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
# Patch ids: each names a change to the commands a trip issues; never remove one while trips that
# may have run the old code are still open (tests/orchestrator/histories keeps their histories).
PATCH_REFUSAL_AFTER_RETRY = "compensate-refusal-after-retry"
PATCH_COMPENSATE_EVERY_STEP = "compensate-every-step"
PATCH_CANCEL_RECORDED_FIRST = "cancel-recorded-before-undo"
# The timer that ends the workflow task accepting CancelTrip before anything is undone.
CANCEL_CHECKPOINT = timedelta(milliseconds=1)


class StepOutcome(Enum):
    BOOKED = "booked"
    REFUSED = "refused"  # the service said no: it holds nothing for the key
    UNKNOWN = "unknown"  # gave up (budget, cancel) after errors that may hide a booking


class TripNotCancellable(ApplicationError):
    """Raised by the CancelTrip validator; the API turns it into FAILED_PRECONDITION."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason, type="TripNotCancellable", non_retryable=True)


@workflow.defn(name="TripWorkflow")
class TripWorkflow:
    @workflow.init
    def __init__(self, input: TripInput) -> None:
        now = workflow.now()
        self._input = input
        self._state = TripState(
            trip_id=input.trip_id,
            request=input.request,
            fingerprint=input.fingerprint,
            status=TripStatus.BOOKING,
            steps=[
                StepState(name=name, idempotency_key=step_key(input.trip_id, name)) for name in STEP_NAMES
            ],
            created_at=now,
            updated_at=now,
            ends_at=input.request.ends_at(),
            version=1,
        )
        # Steps whose compensation is registered and not yet done, oldest first.
        self._to_compensate: list[str] = []
        self._cancel_reason: str | None = None

    # --- the saga --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: TripInput) -> TripState:
        self._index_at_start()
        try:
            booked_all = await self._book_all_steps()
            if booked_all and self._cancel_reason is None:
                self._set_status(TripStatus.CONFIRMED)
                await self._wait_for_end_or_cancel()
            if self._cancel_reason is None and self._state.status == TripStatus.CONFIRMED:
                self._set_status(TripStatus.COMPLETED)
            else:
                final = TripStatus.FAILED if self._cancel_reason is None else TripStatus.CANCELLED
                if final == TripStatus.CANCELLED:
                    await self._cancel_recorded()
                await self._compensate_all(final)
        except asyncio.CancelledError:
            # Cancelled through Temporal: undo what may be booked, even mid-step, then end cancelled.
            if not self._state.terminal:
                failing = self._state.status == TripStatus.COMPENSATING and self._cancel_reason is None
                if not failing:
                    self._cancel_reason = self._cancel_reason or "workflow cancelled through Temporal"
                final = TripStatus.FAILED if failing else TripStatus.CANCELLED
                await self._shielded(self._compensate_all(final))
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._state.status == TripStatus.FAILED:
            raise ApplicationError(
                self._state.failure_reason, self._state, type="TripFailed", non_retryable=True
            )
        if self._state.status == TripStatus.CANCELLED:
            raise ApplicationError(
                self._state.failure_reason, self._state, type="TripCancelled", non_retryable=True
            )
        return self._state

    async def _book_all_steps(self) -> bool:
        """Book the steps in order; False when one failed or a cancel arrived in between."""
        for name in STEP_NAMES:
            if self._cancel_reason is not None:
                return False
            self._to_compensate.append(name)
            outcome = await self._book_step(name)
            if outcome is StepOutcome.BOOKED:
                continue
            if outcome is StepOutcome.REFUSED:
                self._to_compensate.remove(name)
            if self._cancel_reason is None:
                self._state.failure_reason = f"{name}: {self._state.step(name).last_error}"
            return False
        return True

    async def _book_step(self, name: str) -> StepOutcome:
        step = self._state.step(name)
        step.status = StepStatus.IN_PROGRESS
        budget = timedelta(seconds=self._input.step_budget_seconds)
        deadline = workflow.now() + budget
        retry_number = 0
        while True:
            step.attempts += 1
            self._touch()
            try:
                confirmation = await workflow.execute_local_activity(
                    BOOK_ACTIVITY[name],
                    self._book_input(name),
                    result_type=StepConfirmation,
                    start_to_close_timeout=self._attempt_timeout(),
                    retry_policy=ONE_ATTEMPT,
                )
            except FailureError as err:
                error_type, message = _describe(err)
                verdict = retry.judge(error_type)
                step.last_error = message
                trip_metrics.attempt(self._state, name, "book", err)
                if not verdict.retryable:
                    step.status = StepStatus.FAILED
                    self._touch()
                    refused = verdict.certainly_unbooked
                    if refused and retry_number > 0 and workflow.patched(PATCH_REFUSAL_AFTER_RETRY):
                        # An earlier attempt got no answer: it may still book after this refusal
                        # (a slow request overtaken by its retry), so the step is undone too.
                        refused = False
                    return StepOutcome.REFUSED if refused else StepOutcome.UNKNOWN
                delay = timedelta(seconds=retry.backoff_seconds(retry_number))
                retry_number += 1
                if workflow.now() + delay > deadline:
                    step.status = StepStatus.FAILED
                    step.last_error = f"gave up after {budget.total_seconds():g}s of retries: {message}"
                    self._touch()
                    return StepOutcome.UNKNOWN
                self._touch()
                if await self._cancel_arrives_within(delay):
                    step.status = StepStatus.FAILED
                    self._touch()
                    return StepOutcome.UNKNOWN
                continue
            trip_metrics.attempt(self._state, name, "book", None)
            step.status = StepStatus.BOOKED
            step.confirmation_id = confirmation.confirmation_id
            step.price_cents = confirmation.price_cents
            step.currency = confirmation.currency
            step.last_error = ""
            self._touch()
            return StepOutcome.BOOKED

    async def _cancel_recorded(self) -> None:
        """Let the workflow task that accepted CancelTrip complete before anything is undone.

        The cancels are local activities, run inside a workflow task. If that task were also the one
        accepting the update and were lost with it (the Temporal server restarted before it
        completed), the services would hold the cancellations while the history still says
        CONFIRMED. A timer ends the task first, so the update is in the history before any cancel,
        and every replay undoes the same.
        """
        if workflow.patched(PATCH_CANCEL_RECORDED_FIRST):
            await workflow.sleep(CANCEL_CHECKPOINT)

    async def _compensate_all(self, final: TripStatus) -> None:
        """Undo the steps newest first, each until it succeeds; then end in `final`.

        Histories from before PATCH_COMPENSATE_EVERY_STEP undo only the steps registered as they ran.
        """
        if self._cancel_reason is not None:
            self._state.failure_reason = self._cancel_reason
        self._set_status(TripStatus.COMPENSATING)
        if workflow.patched(PATCH_COMPENSATE_EVERY_STEP):
            # Every step, not only those this history reached: a workflow task whose completion was
            # lost (worker or server killed) may have booked later steps that no event records, and
            # a refusal may have overtaken an earlier attempt that still books. A cancel by key
            # undoes a booking or leaves a tombstone that refuses it later; either way one call.
            self._to_compensate = list(STEP_NAMES)
        while self._to_compensate:
            await self._compensate_step(self._to_compensate[-1])
            self._to_compensate.pop()
        self._set_status(final)

    async def _compensate_step(self, name: str) -> None:
        step = self._state.step(name)
        # Once undone, a step that failed shows again why it failed (a booked one shows no error).
        booking_error = step.last_error if step.status == StepStatus.FAILED else ""
        step.status = StepStatus.COMPENSATING
        trip_metrics.compensating(self._state, name)
        retry_number = 0
        while True:
            step.attempts += 1
            self._touch()
            try:
                await workflow.execute_local_activity(
                    CANCEL_ACTIVITY[name],
                    CancelStepInput(idempotency_key=step.idempotency_key),
                    result_type=StepConfirmation,
                    start_to_close_timeout=self._attempt_timeout(),
                    retry_policy=ONE_ATTEMPT,
                )
            except FailureError as err:
                step.last_error = _describe(err)[1]
                trip_metrics.attempt(self._state, name, "cancel", err)
                self._touch()
                # Compensations retry for ever, with the booking steps' backoff (capped at 10 s).
                await workflow.sleep(retry.backoff_seconds(retry_number))
                retry_number += 1
                continue
            trip_metrics.attempt(self._state, name, "cancel", None)
            step.status = StepStatus.COMPENSATED
            step.last_error = booking_error
            self._touch()
            return

    async def _wait_for_end_or_cancel(self) -> None:
        """A confirmed trip sleeps on a durable timer until its end, unless CancelTrip arrives first."""
        remaining = self._state.ends_at - workflow.now()
        if remaining > timedelta(0):
            await self._cancel_arrives_within(remaining)

    async def _cancel_arrives_within(self, delay: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._cancel_reason is not None, timeout=delay)
        except TimeoutError:
            return False
        return True

    @staticmethod
    async def _shielded(compensation: Coroutine[Any, Any, None]) -> None:
        """Run the compensation to its end even if another cancellation reaches this coroutine."""
        task = asyncio.ensure_future(compensation)
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.cancelled():
                    raise
        task.result()

    # --- handlers ----------------------------------------------------------------------------------

    @workflow.query
    def get_trip(self) -> TripState:
        return self._state

    @workflow.update
    async def attach(self, request: AttachRequest) -> TripState:
        """BookTrip joins the trip here; with wait_for_outcome it returns once CONFIRMED or worse."""
        if request.wait_for_outcome:
            await workflow.wait_condition(lambda: self._state.status in OUTCOME_STATUSES)
        return self._state

    @attach.validator
    def _validate_attach(self, request: AttachRequest) -> None:
        if request.fingerprint != self._input.fingerprint:
            raise ApplicationError(
                f"request_id {self._input.request.request_id!r} was already used for a different trip",
                type="RequestMismatch",
                non_retryable=True,
            )

    @workflow.update
    async def cancel(self, request: CancelRequest) -> TripState:
        """CancelTrip: stop booking after the current step, undo everything, return the cancelled trip."""
        if self._cancel_reason is None:
            self._cancel_reason = request.reason or "cancelled by the customer"
        await workflow.wait_condition(lambda: self._state.terminal)
        return self._state

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._cancel_reason is not None and not self._state.terminal:
            return  # already being cancelled: join it
        status = self._state.status
        if self._state.terminal:
            raise TripNotCancellable("TRIP_ENDED", f"trip already ended {status.name}")
        if status == TripStatus.COMPENSATING:
            raise TripNotCancellable("TRIP_FAILING", "trip is failing: its steps are being undone")
        if workflow.now() >= self._input.request.starts_at():
            raise TripNotCancellable("TRIP_STARTED", "trip has already started")

    # --- state bookkeeping ------------------------------------------------------------------------

    def _touch(self) -> None:
        self._state.version += 1
        self._state.updated_at = workflow.now()

    def _set_status(self, status: TripStatus) -> None:
        self._state.status = status
        self._touch()
        trip_metrics.status_changed(self._state)
        workflow.upsert_search_attributes([TRIP_STATUS.value_set(status.value)])
        workflow.upsert_memo({MEMO_TRIP: self._state})

    def _index_at_start(self) -> None:
        """Index the trip unless its starter already did (the API sets both attributes at start).

        The memo holds the trip as of its last status change, so ListTrips shows full trips
        without querying each workflow.
        """
        workflow.upsert_memo({MEMO_TRIP: self._state})
        current = workflow.info().typed_search_attributes
        if current.get(TRIP_STATUS) is None or current.get(TRIP_CUSTOMER_ID) is None:
            workflow.upsert_search_attributes(
                [
                    TRIP_STATUS.value_set(self._state.status.value),
                    TRIP_CUSTOMER_ID.value_set(self._input.request.customer_id),
                ]
            )

    def _attempt_timeout(self) -> timedelta:
        return timedelta(seconds=self._input.attempt_timeout_seconds)

    def _book_input(self, name: str) -> BookFlightInput | ReserveHotelInput | ScheduleCabInput:
        request = self._input.request
        key = self._state.step(name).idempotency_key
        if name == "flight":
            return BookFlightInput(key, request.customer_id, request.flight)
        if name == "hotel":
            return ReserveHotelInput(key, request.customer_id, request.hotel)
        return ScheduleCabInput(key, request.customer_id, request.cab)


def _describe(err: FailureError) -> tuple[str, str]:
    """(error type for the retry table, message for last_error) of a failed local activity.

    A local activity's failure arrives either wrapped in an ActivityError or bare, depending on
    whether it was marked non-retryable (the activities no longer mark any, but recorded histories
    and running trips hold both shapes); both mean the same here. A cancelled call means the
    workflow itself is being cancelled: that propagates as asyncio.CancelledError.
    """
    cause: BaseException | None = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, CancelledError):
        raise asyncio.CancelledError(cause.message) from err
    if isinstance(cause, ApplicationError):
        return cause.type or "UNKNOWN", cause.message
    if isinstance(cause, ActivityTimeoutError):
        return retry.TIMEOUT, "no answer within the attempt timeout"
    return "UNKNOWN", str(cause or err)

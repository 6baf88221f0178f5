"""TripWorkflow: the saga that books a flight, a hotel and a cab, and undoes them when it must.

    1. book, in order              2. hold
    flight --> hotel --> cab --> CONFIRMED --> timer until check-out ---------> COMPLETED
      |          |        |          |
      | a step refused or out        | CancelTrip before the trip starts,
      | of budget; a cancel          | or a cancel through Temporal
      v          v        v          v
    3. undo: COMPENSATING, cancel cab, hotel, flight (newest first) --------> FAILED | CANCELLED

Each step's compensation is registered before the step runs, and the undo covers every step of the
trip (see `_undo` for why). A step is a local activity tried once per call (orchestrator/steps.py
declares the steps); the workflow owns the retry loop (orchestrator/retry.py), so that a query shows
a step's attempts and last error while it is still retrying. `_outcome` decides how the trip ends.
The trip's state and its indexing live in orchestrator/trip_record.py, the rules of the update
validators in orchestrator/update_rules.py.

Workflow code is replayed: keep it deterministic, and put any change to the commands it issues behind
`workflow.patched(...)` (tests/orchestrator/test_replay.py guards the recorded histories).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from orchestrator import retry, trip_metrics, trip_record, update_rules
    from orchestrator.models import (
        OUTCOME_STATUSES,
        AttachRequest,
        CancelRequest,
        CancelStepInput,
        StepConfirmation,
        StepState,
        StepStatus,
        TripInput,
        TripState,
        TripStatus,
    )
    from orchestrator.steps import STEPS, Step, StepActivity

ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
# Patch ids: each names a change to the commands a trip issues; never remove one while trips that
# may have run the old code are still open (tests/orchestrator/histories keeps their histories).
PATCH_REFUSAL_AFTER_RETRY = "compensate-refusal-after-retry"
PATCH_COMPENSATE_EVERY_STEP = "compensate-every-step"
PATCH_CANCEL_RECORDED_FIRST = "cancel-recorded-before-undo"
# Decided once, in the trip's first workflow task: the trip takes no decision right after a step's
# result (see `_checkpoint`). A trip started with it issues the commands of the three patches above
# without asking for them; a trip started before it replays as it ran.
PATCH_STABLE_DECISIONS = "decide-after-a-timer"
# The timer that ends a workflow task before a decision: before anything is undone after CancelTrip,
# and between the step results and what the trip does with them.
CANCEL_CHECKPOINT = timedelta(milliseconds=1)
Input = TypeVar("Input")


class StepOutcome(Enum):
    BOOKED = "booked"
    REFUSED = "refused"  # the service said no: it holds nothing for the key
    UNKNOWN = "unknown"  # gave up (budget, cancel) after errors that may hide a booking


@workflow.defn(name="TripWorkflow")
class TripWorkflow:
    @workflow.init
    def __init__(self, input: TripInput) -> None:
        self._input = input
        self._state = trip_record.new_trip(input)
        # The compensation stack: steps that may hold a booking, oldest first; undone from the top.
        self._compensations: list[Step[Any]] = []
        self._cancel_reason: str | None = None
        # When the trip's first retry of the current step started (the step's retry budget counts
        # from the failure before it), and when the attempt under way started; only while retrying.
        self._retries_from: datetime | None = None
        self._attempt_from: datetime | None = None
        # Set in the first workflow task; see PATCH_STABLE_DECISIONS and `_checkpoint`.
        self._stable = False

    # --- the saga --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: TripInput) -> TripState:
        self._stable = workflow.patched(PATCH_STABLE_DECISIONS)  # before any await: the first task
        trip_record.index_at_start(self._state)
        try:
            if await self._book_every_step():  # 1. book
                self._set_status(TripStatus.CONFIRMED)
                await self._hold()  # 2. hold
            else:
                await self._checkpoint()  # a step failed: what happens next depends on a cancel
            outcome = self._outcome()
            if outcome == TripStatus.COMPLETED:
                self._set_status(outcome)
            else:
                if outcome == TripStatus.CANCELLED:
                    await self._cancel_recorded()  # the cancel is in the history before any undo
                await self._undo(outcome)  # 3. undo
                await self._checkpoint()  # updates that arrived with the last result start first
        except asyncio.CancelledError:
            # Cancelled through Temporal, even mid-step: that is a cancel too, unless the trip is
            # already failing. Undo under a shield: a second cancellation must not stop the undo
            # halfway, which would leave bookings that no trip owns.
            if not self._state.terminal:
                if self._state.status != TripStatus.COMPENSATING:
                    self._cancel_reason = self._cancel_reason or "workflow cancelled through Temporal"
                await _shielded(self._undo(self._outcome()))
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        # Let the updates still running (a BookTrip waiting for the outcome, CancelTrip) answer
        # before the workflow ends; they would fail otherwise.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    def _outcome(self) -> TripStatus:
        """How the trip ends: CANCELLED if a cancel arrived, COMPLETED if it was held to its end."""
        if self._cancel_reason is not None:
            return TripStatus.CANCELLED
        if self._state.status == TripStatus.CONFIRMED:
            return TripStatus.COMPLETED
        return TripStatus.FAILED

    def _result(self) -> TripState:
        """The trip; a FAILED or CANCELLED one ends the workflow failed (visible as such in Temporal)."""
        status = self._state.status
        if status in (TripStatus.FAILED, TripStatus.CANCELLED):
            kind = "TripFailed" if status == TripStatus.FAILED else "TripCancelled"
            raise ApplicationError(self._state.failure_reason, self._state, type=kind, non_retryable=True)
        return self._state

    # --- 1. book ---------------------------------------------------------------------------------

    async def _book_every_step(self) -> bool:
        """Book the steps in order; False as soon as one fails. Before PATCH_STABLE_DECISIONS, also
        when a cancel arrives; since, a cancel that arrives while booking counts once the last step
        is booked (`_hold`), or once a failing step waits (`_backoff`): see `_checkpoint`."""
        for step in STEPS:
            if not self._stable and self._cancel_reason is not None:
                return False
            # Compensation first, then the step: a call that fails or times out may still book.
            self._compensations.append(step)
            outcome = await self._book(step)
            if outcome is StepOutcome.BOOKED:
                continue
            if outcome is StepOutcome.REFUSED:
                self._compensations.pop()  # the service holds nothing for this key
            if self._stable or self._cancel_reason is None:  # a cancel's reason replaces it in `_undo`
                self._state.failure_reason = f"{step.name}: {self._state.step(step.name).last_error}"
            return False
        return self._stable or self._cancel_reason is None

    async def _book(self, step: Step[Any]) -> StepOutcome:
        """Try the step until it books, is refused, runs out of budget, or a cancel arrives."""
        state = self._state.step(step.name)
        state.status = StepStatus.IN_PROGRESS
        booking = step.booking(state.idempotency_key, self._input.request)
        budget = timedelta(seconds=self._input.step_budget_seconds)
        deadline = workflow.now() + budget  # before PATCH_STABLE_DECISIONS only: see `_out_of_budget`
        retry_number = 0
        self._retries_from = self._attempt_from = None
        while True:
            state.attempts += 1
            self._touch()
            try:
                confirmation = await self._call(step.book, booking)
            except FailureError as err:
                error_type, message = retry.describe_failure(err)
                verdict = retry.judge(error_type)
                state.last_error = message
                trip_metrics.attempt(self._state, step.name, "book", err)
                if not verdict.retryable:
                    refused = verdict.certainly_unbooked
                    if refused and retry_number > 0 and self._has(PATCH_REFUSAL_AFTER_RETRY):
                        # An earlier attempt got no answer: it may still book after this refusal
                        # (a slow request overtaken by its retry), so the step is undone too.
                        refused = False
                    return self._step_failed(state, StepOutcome.REFUSED if refused else StepOutcome.UNKNOWN)
                delay = timedelta(seconds=retry.backoff_seconds(retry_number))
                retry_number += 1
                if self._out_of_budget(deadline, delay, budget):
                    state.last_error = f"gave up after {budget.total_seconds():g}s of retries: {message}"
                    return self._step_failed(state, StepOutcome.UNKNOWN)
                self._touch()
                if await self._backoff(delay):
                    return self._step_failed(state, StepOutcome.UNKNOWN)
                continue
            trip_metrics.attempt(self._state, step.name, "book", None)
            state.status = StepStatus.BOOKED
            state.confirmation_id = confirmation.confirmation_id
            state.price_cents = confirmation.price_cents
            state.currency = confirmation.currency
            state.last_error = ""
            self._touch()
            return StepOutcome.BOOKED

    def _out_of_budget(self, deadline: datetime, delay: timedelta, budget: timedelta) -> bool:
        """Whether the next retry would start after the step's budget.

        Before PATCH_STABLE_DECISIONS: by the clock right after the failed call, which a replay may
        read a few milliseconds earlier (see `_checkpoint`). Since: by the clock when the failed
        attempt started, which a timer set; the budget counts from the failure before the first retry.
        """
        if not self._stable:
            return workflow.now() + delay > deadline
        if self._retries_from is None or self._attempt_from is None:  # the first attempt failed
            return delay > budget
        return self._attempt_from + delay > self._retries_from + budget

    async def _backoff(self, delay: timedelta) -> bool:
        """Wait `delay` before the next attempt; True if a cancel arrived meanwhile."""
        if not self._stable:
            return await self._cancel_arrives_within(delay)
        if await self._timer_or_cancel(delay):
            return True
        now = workflow.now()  # the timer's task: the same on every replay
        if self._retries_from is None:
            self._retries_from = now - delay
        self._attempt_from = now
        return False

    def _step_failed(self, state: StepState, outcome: StepOutcome) -> StepOutcome:
        state.status = StepStatus.FAILED
        self._touch()
        return outcome

    # --- 2. hold ---------------------------------------------------------------------------------

    async def _hold(self) -> None:
        """A confirmed trip sleeps on a durable timer until its end, unless CancelTrip arrives first."""
        remaining = self._state.ends_at - workflow.now()
        if not self._stable:
            if remaining > timedelta(0):
                await self._cancel_arrives_within(remaining)
            return
        # Right after the last step's result: the timer is set whatever the clock and the cancels
        # say, and stays set (see `_backoff`).
        await self._timer_or_cancel(max(remaining, CANCEL_CHECKPOINT))

    async def _checkpoint(self) -> None:
        """Before PATCH_STABLE_DECISIONS, nothing; since, a timer that ends the workflow task.

        Why: a query that reaches the worker while a local activity runs makes the SDK core complete
        that workflow task early. The step's result is recorded in it, but this code sees the result
        only in the next task, together with whatever arrived meanwhile (a CancelTrip, a BookTrip,
        a later clock). A replay sees the result one task earlier, alone. So a trip started since the
        patch takes no decision on a cancel, the clock or a patch right after a result: the commands
        it issues there are the same whatever arrived (`_backoff`, `_hold`), or it sets this timer
        and decides when it fires (docs/reliability.md, "Why a trip decides its patches...").
        """
        if self._stable:
            await workflow.sleep(CANCEL_CHECKPOINT)

    async def _timer_or_cancel(self, delay: timedelta) -> bool:
        """Wait for a timer of `delay` or a cancel; True if a cancel arrived.

        The timer is set before the cancel is looked at and is never cancelled, so the commands are
        the same whether the cancel arrived with the result before this or just after it.
        """
        timer = asyncio.ensure_future(workflow.sleep(delay))
        await workflow.wait_condition(lambda: timer.done() or self._cancel_reason is not None)
        return self._cancel_reason is not None

    async def _cancel_arrives_within(self, delay: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._cancel_reason is not None, timeout=delay)
        except TimeoutError:
            return False
        return True

    # --- 3. undo ---------------------------------------------------------------------------------

    async def _cancel_recorded(self) -> None:
        """Let the workflow task that accepted CancelTrip complete before anything is undone.

        The cancels are local activities, run inside a workflow task. If that task were also the one
        accepting the update and were lost with it (the Temporal server restarted before it
        completed), the services would hold the cancellations while the history still says
        CONFIRMED. A timer ends the task first, so the update is in the history before any cancel,
        and every replay undoes the same.
        """
        if self._has(PATCH_CANCEL_RECORDED_FIRST):
            await workflow.sleep(CANCEL_CHECKPOINT)

    async def _undo(self, outcome: TripStatus) -> None:
        """Undo the steps newest first, each until it succeeds; then end in `outcome`."""
        if self._cancel_reason is not None:
            self._state.failure_reason = self._cancel_reason
        self._set_status(TripStatus.COMPENSATING)
        if self._has(PATCH_COMPENSATE_EVERY_STEP):
            # Every step, not only those on the stack: a workflow task whose completion was lost
            # (worker or server killed) may have booked later steps that no event records, and a
            # refusal may have overtaken an earlier attempt that still books. A cancel by key undoes
            # a booking or leaves a tombstone that refuses it later; either way one call. Trips
            # started before this patch replay as they ran: only the steps on the stack.
            self._compensations = list(STEPS)
        while self._compensations:
            await self._compensate(self._compensations[-1])
            self._compensations.pop()
        self._set_status(outcome)

    async def _compensate(self, step: Step[Any]) -> None:
        state = self._state.step(step.name)
        # Once undone, a step that failed shows again why it failed (a booked one shows no error).
        booking_error = state.last_error if state.status == StepStatus.FAILED else ""
        state.status = StepStatus.COMPENSATING
        trip_metrics.compensating(self._state, step.name)
        retry_number = 0
        while True:
            state.attempts += 1
            self._touch()
            try:
                await self._call(step.cancel, CancelStepInput(idempotency_key=state.idempotency_key))
            except FailureError as err:
                state.last_error = retry.describe_failure(err)[1]
                trip_metrics.attempt(self._state, step.name, "cancel", err)
                self._touch()
                # Compensations retry for ever, with the booking steps' backoff (capped at 10 s).
                await workflow.sleep(retry.backoff_seconds(retry_number))
                retry_number += 1
                continue
            trip_metrics.attempt(self._state, step.name, "cancel", None)
            state.status = StepStatus.COMPENSATED
            state.last_error = booking_error
            self._touch()
            return

    async def _call(self, activity: StepActivity[Input], arg: Input) -> StepConfirmation:
        """One call to a service: a local activity with a single attempt (the retry loops are ours)."""
        timeout = timedelta(seconds=self._input.attempt_timeout_seconds)
        return await workflow.execute_local_activity_method(
            activity, arg, start_to_close_timeout=timeout, retry_policy=ONE_ATTEMPT
        )

    def _has(self, patch: str) -> bool:
        """Whether this trip runs with `patch`: asked where the change is, by a trip started before
        PATCH_STABLE_DECISIONS; always, without asking, by one started since."""
        return self._stable or workflow.patched(patch)

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
        update_rules.check_attach(self._input, request.fingerprint)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> TripState:
        """CancelTrip: stop booking (once the steps under way have answered), undo everything, return the
        cancelled trip."""
        if self._cancel_reason is None:
            self._cancel_reason = request.reason or "cancelled by the customer"
        await workflow.wait_condition(lambda: self._state.terminal)
        return self._state

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        update_rules.check_cancel(self._state, self._cancel_reason is not None, workflow.now())

    # --- state bookkeeping ------------------------------------------------------------------------

    def _touch(self) -> None:
        trip_record.touch(self._state)

    def _set_status(self, status: TripStatus) -> None:
        trip_record.set_status(self._state, status)


async def _shielded(undo: Coroutine[Any, Any, None]) -> None:
    """Run the undo to its end even if another cancellation reaches the awaiting coroutine."""
    task = asyncio.ensure_future(undo)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
    task.result()

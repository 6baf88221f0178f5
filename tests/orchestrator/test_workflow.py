"""TripWorkflow on the time-skipping server with scripted activities: the saga's rules, one by one.

The time-skipping server has no update-with-start, so trips start with start_workflow here; the API's
update-with-start path is covered by test_integration.py against a real dev server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from orchestrator.models import AttachRequest, CancelRequest, StepStatus, TripInput, TripState, TripStatus
from orchestrator.retry import REFUSAL_CODES, RETRYABLE_CODES
from orchestrator.worker import build_worker
from orchestrator.workflows import TripWorkflow
from tests.orchestrator.fakes import HANG, FakeServices, refusal, transient, trip_input
from tests.orchestrator.time_skipping import let_trips_end
from tests.support.waiting import wait_for


@dataclass
class Harness:
    env: WorkflowEnvironment
    fake: FakeServices
    task_queue: str

    handles: list[WorkflowHandle[TripWorkflow, TripState]] = field(default_factory=list)

    async def start(
        self, trip: TripInput, task_timeout: timedelta | None = None
    ) -> WorkflowHandle[TripWorkflow, TripState]:
        handle = await self.env.client.start_workflow(
            TripWorkflow.run, trip, id=trip.trip_id, task_queue=self.task_queue, task_timeout=task_timeout
        )
        self.handles.append(handle)
        return handle

    async def trip(self, **kwargs: float) -> TripInput:
        now = await self.env.get_current_time()
        return trip_input(f"r-{uuid.uuid4().hex[:8]}", now, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def harness(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    fake = FakeServices()
    task_queue = f"tq-{uuid.uuid4().hex}"
    worker: Worker = build_worker(time_env.client, task_queue, fake.all())
    async with worker:
        harness = Harness(time_env, fake, task_queue)
        yield harness
        await let_trips_end(harness.handles)


async def state_of(handle: WorkflowHandle[TripWorkflow, TripState]) -> TripState:
    return await handle.query(TripWorkflow.get_trip)


async def wait_status(handle: WorkflowHandle[TripWorkflow, TripState], status: TripStatus) -> TripState:
    async def probe() -> TripState | None:
        state = await state_of(handle)
        return state if state.status == status else None

    return await wait_for(probe, timeout=20, what=f"trip {status}")


async def failure_of(handle: WorkflowHandle[TripWorkflow, TripState]) -> BaseException | None:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    return caught.value.cause


def statuses(state: TripState) -> list[StepStatus]:
    return [step.status for step in state.steps]


async def test_happy_path_confirms_then_completes_at_check_out(harness: Harness) -> None:
    trip = await harness.trip()
    handle = await harness.start(trip)
    confirmed = await wait_status(handle, TripStatus.CONFIRMED)
    assert statuses(confirmed) == [StepStatus.BOOKED] * 3
    assert [step.confirmation_id for step in confirmed.steps] == [
        f"{trip.trip_id}:{name}#conf" for name in ("flight", "hotel", "cab")
    ]
    assert [step.attempts for step in confirmed.steps] == [1, 1, 1]
    assert confirmed.steps[1].idempotency_key == f"{trip.trip_id}:hotel"
    # Check-out day at noon UTC, spelled out rather than recomputed the way the workflow does.
    assert confirmed.ends_at.isoformat() == f"{trip.request.hotel.check_out}T12:00:00+00:00"
    # Awaiting the result lets the server skip time to the check-out date.
    completed = await handle.result()
    assert completed.status == TripStatus.COMPLETED
    assert completed.version > confirmed.version
    assert harness.fake.names() == ["book_flight", "reserve_hotel", "schedule_cab"]


UNDO_ALL = ["cancel_cab", "cancel_hotel", "cancel_flight"]


@pytest.mark.parametrize(
    ("failing", "expected_calls"),
    [
        ("book_flight", ["book_flight", *UNDO_ALL]),
        ("reserve_hotel", ["book_flight", "reserve_hotel", *UNDO_ALL]),
        ("schedule_cab", ["book_flight", "reserve_hotel", "schedule_cab", *UNDO_ALL]),
    ],
)
async def test_a_refused_step_fails_the_trip_and_every_step_is_undone_newest_first(
    harness: Harness, failing: str, expected_calls: list[str]
) -> None:
    # Every step, even the refused one and those never tried: a lost workflow task may have booked
    # any of them (test_lost_task.py); a cancel of a key never booked leaves a tombstone.
    harness.fake.script[failing] = [refusal("FAILED_PRECONDITION", "SOLD_OUT")]
    handle = await harness.start(await harness.trip())
    cause = await failure_of(handle)
    assert isinstance(cause, ApplicationError) and cause.type == "TripFailed"
    assert harness.fake.names() == expected_calls
    state = await state_of(handle)
    assert state.status == TripStatus.FAILED
    failed_index = ["book_flight", "reserve_hotel", "schedule_cab"].index(failing)
    assert statuses(state) == [StepStatus.COMPENSATED] * 3
    assert harness.fake.held() == []
    assert "SOLD_OUT" in state.failure_reason
    assert state.failure_reason.startswith(state.steps[failed_index].name)


async def test_a_timed_out_step_is_compensated_too(harness: Harness) -> None:
    harness.fake.script["reserve_hotel"] = [HANG]
    handle = await harness.start(await harness.trip(budget=0.1, attempt_timeout=0.5))
    await failure_of(handle)
    assert harness.fake.names() == ["book_flight", "reserve_hotel", *UNDO_ALL]
    state = await state_of(handle)
    assert statuses(state) == [StepStatus.COMPENSATED] * 3
    assert "attempt timeout" in state.failure_reason


async def test_a_refusal_after_an_unanswered_attempt_is_compensated_too(harness: Harness) -> None:
    # The first call got no answer and may still book later; the retry's SOLD_OUT does not prove that
    # nothing is held, so the hotel is cancelled too (patch compensate-refusal-after-retry).
    harness.fake.script["reserve_hotel"] = [
        transient("UNAVAILABLE"),
        refusal("FAILED_PRECONDITION", "SOLD_OUT"),
    ]
    handle = await harness.start(await harness.trip())
    await failure_of(handle)
    assert harness.fake.names() == [
        "book_flight",
        "reserve_hotel",
        "reserve_hotel",
        *UNDO_ALL,
    ]
    state = await state_of(handle)
    assert state.status == TripStatus.FAILED
    assert statuses(state) == [StepStatus.COMPENSATED] * 3
    assert "SOLD_OUT" in state.failure_reason


async def test_temporal_cancellation_mid_step_still_compensates(harness: Harness) -> None:
    harness.fake.script["reserve_hotel"] = [HANG]
    # While a local activity runs, new events (the cancel) reach the workflow at the next workflow
    # task heartbeat, at 80% of the task timeout: a short one keeps the test quick.
    handle = await harness.start(await harness.trip(attempt_timeout=60), task_timeout=timedelta(seconds=2))
    await wait_for(lambda: _called(harness.fake, "reserve_hotel"), timeout=20, what="hotel call")
    await handle.cancel()
    cause = await failure_of(handle)
    assert isinstance(cause, CancelledError)
    assert harness.fake.names() == ["book_flight", "reserve_hotel", *UNDO_ALL]
    state = await state_of(handle)
    assert state.status == TripStatus.CANCELLED
    assert statuses(state) == [StepStatus.COMPENSATED] * 3


async def test_temporal_cancellation_of_a_confirmed_trip_undoes_everything(harness: Harness) -> None:
    handle = await harness.start(await harness.trip())
    await wait_status(handle, TripStatus.CONFIRMED)
    await handle.cancel()
    assert isinstance(await failure_of(handle), CancelledError)
    state = await state_of(handle)
    assert state.status == TripStatus.CANCELLED
    assert state.failure_reason == "workflow cancelled through Temporal"
    assert harness.fake.names()[3:] == UNDO_ALL
    assert harness.fake.held() == []


async def test_temporal_cancellation_while_a_failed_trip_is_undone_keeps_it_failed_and_undoes_all(
    harness: Harness,
) -> None:
    # The cab is refused; the hotel's cancel hangs when the cancel through Temporal arrives. The
    # shielded undo starts over and runs to its end, and the trip stays FAILED (not CANCELLED).
    harness.fake.script["schedule_cab"] = [refusal("NOT_FOUND", "CITY_NOT_FOUND")]
    harness.fake.script["cancel_hotel"] = [HANG]
    handle = await harness.start(await harness.trip(attempt_timeout=60), task_timeout=timedelta(seconds=2))
    await wait_for(lambda: _called(harness.fake, "cancel_hotel"), timeout=20, what="hotel cancel")
    await handle.cancel()
    assert isinstance(await failure_of(handle), CancelledError)
    state = await state_of(handle)
    assert state.status == TripStatus.FAILED
    assert state.failure_reason.startswith("cab: NOT_FOUND")
    assert statuses(state) == [StepStatus.COMPENSATED] * 3
    assert harness.fake.names()[-3:] == UNDO_ALL
    assert harness.fake.held() == []


async def _called(fake: FakeServices, name: str) -> bool:
    return name in fake.names()


@pytest.mark.parametrize("code", sorted(RETRYABLE_CODES - {"CANCELLED"}))
async def test_retryable_codes_are_retried_until_the_step_books(harness: Harness, code: str) -> None:
    harness.fake.script["book_flight"] = [transient(code), transient(code)]
    handle = await harness.start(await harness.trip())
    state = await wait_status(handle, TripStatus.CONFIRMED)
    assert state.steps[0].attempts == 3
    assert state.steps[0].last_error == ""
    await handle.terminate("test over")


@pytest.mark.parametrize("code", sorted(REFUSAL_CODES))
async def test_refusal_codes_fail_the_step_at_once(harness: Harness, code: str) -> None:
    harness.fake.script["reserve_hotel"] = [refusal(code, code)]
    handle = await harness.start(await harness.trip())
    await failure_of(handle)
    state = await state_of(handle)
    assert harness.fake.names() == ["book_flight", "reserve_hotel", *UNDO_ALL]
    assert state.steps[1].status == StepStatus.COMPENSATED
    assert state.steps[1].attempts == 1 + 1  # one booking attempt, one cancel
    assert state.failure_reason.startswith(f"hotel: {code}")
    assert code in state.steps[1].last_error  # undone, and still says why it failed


async def test_exhausted_budget_fails_the_step_and_compensates_it(harness: Harness) -> None:
    harness.fake.script["book_flight"] = [transient("UNAVAILABLE") for _ in range(200)]
    handle = await harness.start(await harness.trip(budget=30))
    await failure_of(handle)
    state = await state_of(handle)
    assert state.status == TripStatus.FAILED
    flight = state.steps[0]
    # Compensated because an UNAVAILABLE call may still have reached the service.
    assert flight.status == StepStatus.COMPENSATED
    booking_attempts = harness.fake.names().count("book_flight")
    assert booking_attempts > 3
    assert flight.attempts == booking_attempts + 1
    assert "gave up after 30s" in state.failure_reason and "UNAVAILABLE" in state.failure_reason
    assert harness.fake.names()[-1] == "cancel_flight"


async def test_cancel_trip_after_confirmation_undoes_everything(harness: Harness) -> None:
    handle = await harness.start(await harness.trip())
    await wait_status(handle, TripStatus.CONFIRMED)
    state = await handle.execute_update(TripWorkflow.cancel, CancelRequest("changed plans"))
    assert state.status == TripStatus.CANCELLED
    assert state.failure_reason == "changed plans"
    assert statuses(state) == [StepStatus.COMPENSATED] * 3
    assert harness.fake.names()[3:] == ["cancel_cab", "cancel_hotel", "cancel_flight"]
    cause = await failure_of(handle)
    assert isinstance(cause, ApplicationError) and cause.type == "TripCancelled"


async def test_cancel_trip_is_refused_once_the_trip_has_started(harness: Harness) -> None:
    handle = await harness.start(await harness.trip(days_ahead=0))
    await wait_status(handle, TripStatus.CONFIRMED)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(TripWorkflow.cancel, CancelRequest("too late"))
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "TripNotCancellable"
    assert cause.details == ("TRIP_STARTED",)
    assert (await state_of(handle)).status == TripStatus.CONFIRMED
    await handle.terminate("test over")


async def test_attach_with_another_request_is_refused(harness: Harness) -> None:
    trip = await harness.trip()
    handle = await harness.start(trip)
    same = await handle.execute_update(TripWorkflow.attach, AttachRequest(trip.fingerprint, True))
    assert same.status == TripStatus.CONFIRMED
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(TripWorkflow.attach, AttachRequest("another", False))
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "RequestMismatch"
    await handle.terminate("test over")


async def test_failing_compensation_shows_compensating_with_last_error_then_succeeds(
    harness: Harness,
) -> None:
    harness.fake.script["schedule_cab"] = [refusal("NOT_FOUND", "CITY_NOT_FOUND")]
    harness.fake.script["cancel_hotel"] = [transient("UNAVAILABLE") for _ in range(5)]
    handle = await harness.start(await harness.trip())

    async def compensating_with_error() -> TripState | None:
        state = await state_of(handle)
        hotel = state.steps[1]
        retrying = state.status == TripStatus.COMPENSATING and hotel.status == StepStatus.COMPENSATING
        return state if retrying and "UNAVAILABLE" in hotel.last_error else None

    seen = await wait_for(compensating_with_error, timeout=20, what="compensation retrying")
    # Newest first: the refused cab is already undone, the flight waits its turn.
    assert seen.steps[2].status == StepStatus.COMPENSATED
    assert seen.steps[0].status == StepStatus.BOOKED
    await failure_of(handle)
    state = await state_of(handle)
    assert statuses(state) == [StepStatus.COMPENSATED] * 3
    assert state.steps[1].last_error == ""
    assert state.steps[1].attempts == 1 + 6

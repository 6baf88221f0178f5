"""Re-record the workflow histories that test_replay.py replays.

Run `.venv/bin/python -m tests.orchestrator.record_histories` after an *intended* change to the
commands TripWorkflow issues (one put behind `workflow.patched(...)`), and commit the new JSON next to
the old ones rather than over them when running trips may still carry the old shape: the point of the
replay test is that every history ever recorded keeps replaying.

Each history is a real run on the time-skipping test server with scripted activities
(tests/orchestrator/fakes.py), so it holds retries, compensations, timers, updates and memo upserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from orchestrator.models import (
    AttachRequest,
    CancelRequest,
    StepConfirmation,
    TripInput,
    TripState,
    TripStatus,
)
from orchestrator.search_attributes import ensure_search_attributes
from orchestrator.worker import build_worker
from orchestrator.workflows import TripWorkflow
from tests.orchestrator.fakes import HANG, Answer, FakeServices, refusal, transient, trip_input
from tests.orchestrator.lost_task import LoseTaskOnce
from tests.orchestrator.stack import HISTORIES, TEMPORAL_TEST_SERVER
from tests.support.waiting import wait_for

Handle = WorkflowHandle[TripWorkflow, TripState]


async def _finish(handle: Handle) -> None:
    # FAILED and CANCELLED trips end their workflow as failed: that is what we record.
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()


async def _completed(handle: Handle, fake: FakeServices, trip: TripInput) -> None:
    """Happy path with one retried step, joined by a BookTrip update, completed by its timer."""
    await handle.execute_update(TripWorkflow.attach, AttachRequest(trip.fingerprint, wait_for_outcome=True))
    await _finish(handle)


async def _failed(handle: Handle, fake: FakeServices, trip: TripInput) -> None:
    """Hotel refused (SOLD_OUT); the flight's compensation fails once, then succeeds."""
    await _finish(handle)


async def _cancelled(handle: Handle, fake: FakeServices, trip: TripInput) -> None:
    """Confirmed, then CancelTrip: every step undone, newest first."""
    await wait_for(lambda: _status_is(handle, TripStatus.CONFIRMED), timeout=20, what="confirmed")
    await handle.execute_update(TripWorkflow.cancel, CancelRequest("plans changed"))
    await _finish(handle)


async def _cancelled_mid_step(handle: Handle, fake: FakeServices, trip: TripInput) -> None:
    """Cancelled through Temporal while the hotel call hangs: compensation still runs."""
    await wait_for(lambda: _called(fake, "reserve_hotel"), timeout=20, what="hotel call")
    await handle.cancel()
    await _finish(handle)


async def _cancelled_after_lost_task(handle: Handle, fake: FakeServices, trip: TripInput) -> None:
    """A task that booked flight and hotel is lost; the replayed flight retries; CancelTrip."""
    await wait_for(lambda: _called_times(fake, "book_flight", 3), timeout=20, what="flight retrying")
    await handle.execute_update(TripWorkflow.cancel, CancelRequest("plans changed"))
    await _finish(handle)


async def _status_is(handle: Handle, status: TripStatus) -> bool:
    return (await handle.query(TripWorkflow.get_trip)).status == status


async def _called(fake: FakeServices, name: str) -> bool:
    return name in fake.names()


async def _called_times(fake: FakeServices, name: str, times: int) -> bool:
    return fake.names().count(name) >= times


Scenario = Callable[[Handle, FakeServices, TripInput], Awaitable[None]]
# The flight books, then its service is down for longer than the step's budget.
FLIGHT_BOOKED_THEN_DOWN: list[Answer] = [StepConfirmation("flight#conf"), *(transient() for _ in range(200))]


@dataclass(frozen=True)
class Recording:
    run: Scenario
    script: dict[str, list[Answer]] = field(default_factory=dict)
    # Lose the workflow task that starts this activity (tests/orchestrator/lost_task.py), once.
    lose_task_before: str | None = None


SCENARIOS: dict[str, Recording] = {
    "completed": Recording(_completed, {"book_flight": [transient("UNAVAILABLE")]}),
    "failed_compensated": Recording(
        _failed,
        {
            "reserve_hotel": [refusal("FAILED_PRECONDITION", "SOLD_OUT")],
            "cancel_flight": [transient("INTERNAL")],
        },
    ),
    "refused_after_retry": Recording(
        _failed, {"reserve_hotel": [transient("UNAVAILABLE"), refusal("FAILED_PRECONDITION", "SOLD_OUT")]}
    ),
    "cancelled": Recording(_cancelled),
    "cancelled_mid_step": Recording(_cancelled_mid_step, {"reserve_hotel": [HANG]}),
    "lost_task": Recording(
        _failed, {"book_flight": FLIGHT_BOOKED_THEN_DOWN}, lose_task_before="schedule_cab"
    ),
    "lost_task_cancelled": Recording(
        _cancelled_after_lost_task, {"book_flight": FLIGHT_BOOKED_THEN_DOWN}, lose_task_before="schedule_cab"
    ),
}


async def record(names: list[str] | None = None) -> dict[str, str]:
    """Run every scenario (or only `names`); return name -> history JSON."""
    histories: dict[str, str] = {}
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEMPORAL_TEST_SERVER))
    try:
        await ensure_search_attributes(env.client)
        for name, recording in SCENARIOS.items():
            if names and name not in names:
                continue
            fake = FakeServices(script={key: list(answers) for key, answers in recording.script.items()})
            interceptors = [LoseTaskOnce(recording.lose_task_before)] if recording.lose_task_before else []
            task_queue = f"record-{uuid.uuid4().hex[:8]}"
            trip = trip_input(f"history-{name}", await env.get_current_time(), attempt_timeout=30)
            async with build_worker(env.client, task_queue, fake.all(), interceptors=interceptors):
                handle = await env.client.start_workflow(
                    TripWorkflow.run, trip, id=trip.trip_id, task_queue=task_queue
                )
                await recording.run(handle, fake, trip)
                histories[name] = (await handle.fetch_history()).to_json()
    finally:
        await env.shutdown()
    return histories


def main() -> None:
    """Record every scenario, or only those named on the command line (`... record_histories NAME`)."""
    names = sys.argv[1:]
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for name, history in asyncio.run(record(names)).items():
        path = HISTORIES / f"{name}.json"
        path.write_text(history + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""A workflow task whose completion is lost must not leave a booking behind (the saga's one job).

Each test loses one workflow task on purpose (tests/orchestrator/lost_task.py) after the flight and
the hotel have booked at the fake services and before the history records it. The task is then
replayed from the start, and something goes wrong in the replay: the flight service is down until
the step gives up, a cancel arrives, or the hotel's retry is refused. Whatever the replay reached,
the trip must end holding nothing at any service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from orchestrator.models import CancelRequest, StepConfirmation, StepStatus, TripState, TripStatus
from orchestrator.worker import build_worker
from orchestrator.workflows import TripWorkflow
from tests.orchestrator.fakes import Answer, FakeServices, refusal, transient, trip_input
from tests.orchestrator.lost_task import LoseTaskOnce
from tests.orchestrator.time_skipping import let_trips_end
from tests.support.waiting import wait_for

Handle = WorkflowHandle[TripWorkflow, TripState]
BOOKED_THEN_DOWN: list[Answer] = [
    StepConfirmation("flight#conf", 1000, "EUR"),
    *(transient() for _ in range(200)),
]


@dataclass
class LossHarness:
    env: WorkflowEnvironment
    fake: FakeServices
    lose: LoseTaskOnce
    task_queue: str
    handles: list[Handle] = field(default_factory=list)

    async def start(self) -> Handle:
        trip = trip_input(f"lost-{uuid.uuid4().hex[:8]}", await self.env.get_current_time(), budget=30)
        handle = await self.env.client.start_workflow(
            TripWorkflow.run, trip, id=trip.trip_id, task_queue=self.task_queue
        )
        self.handles.append(handle)
        return handle


@pytest.fixture
async def loss(time_env: WorkflowEnvironment) -> AsyncIterator[LossHarness]:
    fake = FakeServices()
    lose = LoseTaskOnce(before="schedule_cab")
    task_queue = f"lost-{uuid.uuid4().hex}"
    async with build_worker(time_env.client, task_queue, fake.all(), interceptors=[lose]):
        harness = LossHarness(time_env, fake, lose, task_queue)
        yield harness
        await let_trips_end(harness.handles)


async def ended(handle: Handle) -> TripState:
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return await handle.query(TripWorkflow.get_trip)


def booked_by_the_lost_task(fake: FakeServices) -> list[str]:
    return [name for name, _ in fake.calls[:2]]


async def test_a_step_that_gives_up_after_a_lost_task_undoes_what_the_lost_task_booked(
    loss: LossHarness,
) -> None:
    loss.fake.script["book_flight"] = list(BOOKED_THEN_DOWN)
    handle = await loss.start()
    state = await ended(handle)
    assert loss.lose.fired
    assert booked_by_the_lost_task(loss.fake) == ["book_flight", "reserve_hotel"]
    assert state.status == TripStatus.FAILED
    assert "gave up" in state.failure_reason
    # The replay never reached the hotel or the cab; both are undone all the same, newest first.
    assert loss.fake.held() == []
    assert loss.fake.names()[-3:] == ["cancel_cab", "cancel_hotel", "cancel_flight"]
    assert [step.status for step in state.steps] == [StepStatus.COMPENSATED] * 3


async def test_a_cancel_after_a_lost_task_undoes_what_the_lost_task_booked(loss: LossHarness) -> None:
    loss.fake.script["book_flight"] = list(BOOKED_THEN_DOWN)
    handle = await loss.start()
    await wait_for(
        lambda: _at_least(loss.fake, "book_flight", 3), timeout=20, what="the replayed flight retrying"
    )
    cancelled = await handle.execute_update(TripWorkflow.cancel, CancelRequest("changed plans"))
    assert cancelled.status == TripStatus.CANCELLED
    assert loss.fake.held() == []
    assert [step.status for step in cancelled.steps] == [StepStatus.COMPENSATED] * 3


async def test_a_refusal_after_a_lost_task_still_undoes_the_step(loss: LossHarness) -> None:
    # The lost task's hotel call booked; the replay's call is refused (it raced the first one for
    # the last room). The refusal says nothing about the key the first call used.
    loss.fake.script["reserve_hotel"] = [
        StepConfirmation("hotel#conf", 1000, "EUR"),
        refusal("FAILED_PRECONDITION", "SOLD_OUT"),
    ]
    handle = await loss.start()
    state = await ended(handle)
    assert state.status == TripStatus.FAILED
    assert "SOLD_OUT" in state.failure_reason
    assert loss.fake.held() == []


async def _at_least(fake: FakeServices, name: str, count: int) -> bool:
    return fake.names().count(name) >= count

"""Worker Deployment versioning against the real dev server (`temporal server start-dev`).

A worker with TRIP_WORKER_BUILD_ID=v1 makes itself the current version and confirms a trip, which
runs AUTO_UPGRADE. A rolling upgrade then replaces it with v2; the sleeping confirmed trip is
cancelled and its next workflow task runs on v2, the trip ending CANCELLED with everything given back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import VersioningBehavior
from tripbooking.trip.v1 import trip_pb2

from tests.orchestrator.stack import Stack, running_stack
from tests.orchestrator.trips import TripRequests, assert_confirmed, seats_left
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

book_request = TripRequests(first_day=300, prefix="versioning")


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    workdir = tmp_path_factory.mktemp("versioning")
    async with running_stack(workdir, extra_env={"TRIP_WORKER_BUILD_ID": "v1"}) as running:
        yield running


async def versioning(stack: Stack, trip_id: str) -> tuple[str, int]:
    """(build id, behavior) the trip last ran with, as the server records it."""
    described = await stack.client.get_workflow_handle(trip_id).describe()
    info = described.raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, info.behavior


async def test_a_trip_runs_auto_upgrade_and_moves_to_the_new_version(stack: Stack) -> None:
    request = book_request()
    reply = await assert_confirmed(stack, request)
    assert await versioning(stack, reply.trip_id) == (
        "v1",
        VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE,
    )

    # Rolling upgrade: v1 stops, v2 starts and makes itself current.
    await stack.processes["worker"].stop()
    stack.extra_env["TRIP_WORKER_BUILD_ID"] = "v2"
    stack.start_worker()
    seats = await seats_left(stack, request.flight.date)
    cancelled = await stack.trips().CancelTrip(
        trip_pb2.CancelTripRequest(trip_id=reply.trip_id, reason="versioning"), timeout=60
    )
    assert cancelled.status == trip_pb2.TRIP_STATUS_CANCELLED, stack.logs()
    assert await seats_left(stack, request.flight.date) == seats + request.flight.seats

    async def on_v2() -> bool:
        return (await versioning(stack, reply.trip_id))[0] == "v2"

    await wait_for(on_v2, timeout=30, what="the trip's last task on v2")

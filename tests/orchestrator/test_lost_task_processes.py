"""A lost workflow task through real processes: the worker is SIGKILLed after the hotel service has
recorded its booking and while the cab call is still on its way (held by injected latency), so the
task that booked flight and hotel never completes. The next worker replays it with the flight service
down: the flight step gives up, and the trip must still give back what the lost task booked
(tests/orchestrator/test_lost_task.py shows the same with scripted services, deterministically).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tripbooking.trip.v1 import trip_pb2

from tests.orchestrator.stack import Stack, running_stack
from tests.orchestrator.trips import TripRequests, booking_status
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

ENV = {
    # The replayed flight step gives up quickly while its service is down.
    "TRIP_STEP_BUDGET_SECONDS": "3",
    # The cab call is slow, so the workflow task is still open when the hotel has booked.
    "CAB_FAULT_LATENCY_MS": "2000",
    "CAB_FAULT_METHODS": "ScheduleCab",
}
book_request = TripRequests(first_day=160, spacing=3, prefix="lost", customer="lost")


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("lost-task"), extra_env=ENV) as running:
        yield running


async def test_a_killed_worker_whose_task_booked_flight_and_hotel_leaves_nothing_booked(stack: Stack) -> None:
    request = book_request(wait=False)
    trip_id = f"trip-{request.request_id}"
    # BookTrip answers once the first workflow task completes, and this test kills the worker before
    # that: the call goes on in the background while the hotel's service is watched.
    booking = asyncio.ensure_future(stack.trips().BookTrip(request, timeout=60))
    keys = {name: f"{trip_id}:{name}" for name in ("flight", "hotel", "cab")}

    async def hotel_booked() -> bool:
        return await booking_status(stack, "hotel", keys["hotel"]) == "BOOKED"

    await wait_for(hotel_booked, timeout=30, interval=0.02, what="the hotel booked at its service")
    stack.processes["worker"].kill()
    await stack.processes["flight"].stop()
    stack.start_worker()

    async def compensating() -> bool:
        trip = await stack.trips().GetTrip(trip_pb2.GetTripRequest(trip_id=trip_id), timeout=15)
        return trip.status == trip_pb2.TRIP_STATUS_COMPENSATING

    await wait_for(compensating, timeout=60, what="the replayed flight step giving up")
    await stack.start_service("flight")

    async def ended() -> trip_pb2.Trip | None:
        trip = await stack.trips().GetTrip(trip_pb2.GetTripRequest(trip_id=trip_id), timeout=15)
        return trip if trip.status == trip_pb2.TRIP_STATUS_FAILED else None

    trip = await wait_for(ended, timeout=60, what="the trip failed and compensated")
    assert "gave up" in trip.failure_reason, trip
    held = {name: await booking_status(stack, name, key) for name, key in keys.items()}
    # The lost task booked the hotel; its cab call died with the worker, and the cab's cancel leaves
    # a tombstone, so that call could not book later either. (Before the fix: hotel BOOKED, cab NONE.)
    assert held == {"flight": "CANCELLED", "hotel": "CANCELLED", "cab": "CANCELLED"}, stack.logs()
    assert [s.status for s in trip.steps] == [trip_pb2.STEP_STATUS_COMPENSATED] * 3
    # The BookTrip call outlived the worker it waited for: it answers for the same trip.
    assert (await booking).trip_id == trip_id

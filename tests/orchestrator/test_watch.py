"""WatchTrip's polling against a scripted history (no servers): it queries only when there is news."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, cast

from temporalio.client import Client
from tripbooking.trip.v1 import trip_pb2

from orchestrator.models import StepState, TripState, TripStatus, step_key, trip_id_for
from orchestrator.servicer import TripServicer
from tests.orchestrator.fakes import trip_request

NOW = datetime(2027, 1, 10, tzinfo=UTC)
TRIP_ID = trip_id_for("r-watch")


def state(version: int, status: TripStatus = TripStatus.BOOKING) -> TripState:
    request = trip_request("r-watch", NOW)
    return TripState(
        trip_id=TRIP_ID,
        request=request,
        fingerprint=request.fingerprint(),
        status=status,
        steps=[StepState(name=name, idempotency_key=step_key(TRIP_ID, name)) for name in ("flight",)],
        created_at=NOW,
        updated_at=NOW,
        ends_at=request.ends_at(),
        version=version,
    )


class History:
    """Pages of (event count, workflow still open), returned in order by fetch_next_page."""

    def __init__(self, pages: list[tuple[int, bool]]) -> None:
        self.pages = pages
        self.current_page: list[object] | None = None
        self.next_page_token: bytes | None = b"start"

    async def fetch_next_page(self) -> None:
        events, open_ = self.pages.pop(0)
        self.current_page = [object()] * events
        self.next_page_token = b"more" if open_ else None


@dataclasses.dataclass
class Handle:
    history: History
    states: list[TripState]
    final: TripState
    queries: int = 0
    describes: int = 0

    def fetch_history_events(self, **_: Any) -> History:
        return self.history

    async def query(self, *_: Any, **__: Any) -> TripState:
        self.queries += 1
        return self.states.pop(0)

    async def describe(self) -> Handle:
        self.describes += 1
        return self

    async def memo_value(self, key: str, type_hint: type) -> TripState:
        return self.final


class FakeClient:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def get_workflow_handle_for(self, run: Any, trip_id: str) -> Handle:
        assert trip_id == TRIP_ID
        return self.handle


async def watch(handle: Handle) -> list[tuple[int, int]]:
    servicer = TripServicer(
        cast(Client, FakeClient(handle)), "tq", step_budget_seconds=60, attempt_timeout_seconds=5
    )
    stream = servicer.WatchTrip(trip_pb2.WatchTripRequest(trip_id=TRIP_ID), cast(Any, None))
    return [(trip.status, trip.steps[0].attempts) async for trip in stream]


async def test_idle_long_polls_cost_no_query_and_the_end_is_read_from_the_memo() -> None:
    booking, moved = state(1), state(2)
    moved.steps[0].attempts = 1
    done = state(3, TripStatus.CANCELLED)
    # The history so far, two empty long polls, a step moved, then the trip closed.
    history = History([(5, True), (0, True), (0, True), (2, True), (4, False)])
    handle = Handle(history, states=[booking, moved], final=done)
    seen = await watch(handle)
    assert [attempts for _, attempts in seen] == [0, 1, 0] and len({status for status, _ in seen}) == 2
    assert handle.queries == 2  # after the first page and after the step moved: not after idle polls
    assert handle.describes == 1  # the closed trip comes from its memo
    assert not history.pages


async def test_a_trip_closed_before_the_watch_is_read_from_the_memo_alone() -> None:
    done = state(7, TripStatus.FAILED)
    handle = Handle(History([(9, False)]), states=[], final=done)
    assert len(await watch(handle)) == 1
    assert (handle.queries, handle.describes) == (0, 1)

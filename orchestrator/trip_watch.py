"""WatchTrip: long-poll the workflow's history, and query the trip only when it brought news.

The first page is the history so far (it returns at once); the query after it is at least that
new, so the long polls only wake for later events (a step moved, a timer fired). A long poll that
comes back empty after the server's timeout costs no query, so a watched trip that sits idle for
weeks costs Temporal one cheap long poll every WATCH_POLL_TIMEOUT and no worker at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from temporalio.client import WorkflowHistoryEventAsyncIterator
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.trip.v1 import trip_pb2

from booking_runtime.errors import NotFound
from orchestrator import convert
from orchestrator.models import TripState

# Server-side long polls of the history return after about 20 s without news; stay above that.
WATCH_POLL_TIMEOUT = timedelta(seconds=30)

# Reads the trip: from its memo once the workflow has closed (True), else by query (False).
ReadTrip = Callable[[bool], Awaitable[TripState]]


async def watch_trip(
    history: WorkflowHistoryEventAsyncIterator, trip_id: str, read: ReadTrip
) -> AsyncIterator[trip_pb2.Trip]:
    """The trip now, then the trip at every change, until it is terminal or its workflow closed."""
    closed = await _next_events(history, trip_id) is None
    state = await read(closed)
    yield convert.trip_to_proto(state)
    version = state.version
    while not state.terminal and not closed:
        events = await _next_events(history, trip_id)
        closed = events is None
        if not events and not closed:
            continue  # an idle long poll: nothing to query
        state = await read(closed)
        if state.version != version:
            version = state.version
            yield convert.trip_to_proto(state)


async def _next_events(history: WorkflowHistoryEventAsyncIterator, trip_id: str) -> int | None:
    """Long-polls the next page of history: how many events it brought; None once the workflow closed."""
    try:
        await history.fetch_next_page()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no trip {trip_id!r}") from None
        if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise
        return 0
    if history.next_page_token is None:
        return None
    return len(history.current_page or ())

"""TripService: the gRPC face of TripWorkflow.

BookTrip is one update-with-start call (start the trip or find it, then attach, optionally waiting
for the outcome); GetTrip is a query; CancelTrip an update; ListTrips reads visibility
(orchestrator/trip_list.py); WatchTrip long-polls the workflow's history and queries once per new
batch of events, none while idle (orchestrator/trip_watch.py).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from booking_runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from booking_runtime.grpc_types import Context
from booking_runtime.temporal_outcomes import TemporalError, TemporalHealth, temporal_error, watched
from orchestrator import convert, search_attributes, validation
from orchestrator.codec import CustomerHasher
from orchestrator.models import (
    AttachRequest,
    CancelRequest,
    TripInput,
    TripRequest,
    TripState,
    TripStatus,
    trip_id_for,
)
from orchestrator.trip_list import list_trips, listed_trip
from orchestrator.trip_watch import WATCH_POLL_TIMEOUT, watch_trip
from orchestrator.workflows import TripWorkflow

# While a step's call is in flight the workflow task stays open; queries, CancelTrip and a crashed
# worker's hand-over wait for its heartbeat at 80% of this timeout (Temporal's default is 10 s).
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
# A query waits for a worker: while a booking call is in flight, up to the task timeout's heartbeat.
QUERY_TIMEOUT = timedelta(seconds=10)


Method = TypeVar("Method", bound=Callable[..., Awaitable[Any]])
StreamMethod = TypeVar("StreamMethod", bound=Callable[..., AsyncIterator[Any]])


def _temporal_errors(method: Method) -> Method:
    """Failures of Temporal calls as statuses a client can act on (booking_runtime.temporal_outcomes)."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except Exception as err:
            status = temporal_error(err)
            if status is None:
                raise
            raise status from err

    return cast(Method, wrapper)


def _temporal_stream_errors(method: StreamMethod) -> StreamMethod:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async for item in method(*args, **kwargs):
                yield item
        except Exception as err:
            status = temporal_error(err)
            if status is None:
                raise
            raise status from err

    return cast(StreamMethod, wrapper)


class TripServicer(trip_pb2_grpc.TripServiceServicer):
    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        step_budget_seconds: float,
        attempt_timeout_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hasher: CustomerHasher | None = None,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._step_budget_seconds = step_budget_seconds
        self._attempt_timeout_seconds = attempt_timeout_seconds
        self._now = clock  # BookTrip refuses dates before today (UTC)
        self._hasher = hasher  # TRIP_CODEC_KEYS: TripCustomerId holds a keyed hash, not the id
        self._health = TemporalHealth(lambda timeout: client.service_client.check_health(timeout=timeout))

    # --- BookTrip ----------------------------------------------------------------------------------

    @_temporal_errors
    async def BookTrip(
        self, request: trip_pb2.BookTripRequest, context: Context
    ) -> trip_pb2.BookTripResponse:
        trip_request = validation.parse_book_request(request, self._now())
        trip_id = trip_id_for(trip_request.request_id)
        fingerprint = trip_request.fingerprint()
        start = WithStartWorkflowOperation(
            TripWorkflow.run,
            self._trip_input(trip_id, trip_request, fingerprint),
            id=trip_id,
            task_queue=self._task_queue,
            # A running trip is joined; an ended one is never started again (answered from its memo).
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=search_attributes.initial(
                self._hasher.current(trip_request.customer_id) if self._hasher else trip_request.customer_id,
                TripStatus.BOOKING.value,
            ),
            static_summary=f"trip {trip_request.request_id}"
            + ("" if self._hasher else f" for {trip_request.customer_id}"),
            task_timeout=WORKFLOW_TASK_TIMEOUT,
        )
        try:
            state: TripState = await self._watched(
                context,
                self._client.execute_update_with_start_workflow(
                    TripWorkflow.attach,
                    AttachRequest(fingerprint=fingerprint, wait_for_outcome=request.wait_for_outcome),
                    start_workflow_operation=start,
                ),
            )
        except WorkflowUpdateFailedError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == "RequestMismatch":
                raise _mismatch(trip_request.request_id) from None
            raise _update_refusal(err) from None
        except (WorkflowAlreadyStartedError, RPCError) as err:
            # The trip has ended (REJECT_DUPLICATE): the SDK reports it either way.
            if isinstance(err, RPCError) and err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            state = await self._ended_state(trip_id)
            if state.fingerprint != fingerprint:
                raise _mismatch(trip_request.request_id) from None
        return trip_pb2.BookTripResponse(trip_id=trip_id, trip=convert.trip_to_proto(state))

    def _trip_input(self, trip_id: str, request: TripRequest, fingerprint: str) -> TripInput:
        return TripInput(
            trip_id=trip_id,
            request=request,
            fingerprint=fingerprint,
            step_budget_seconds=self._step_budget_seconds,
            attempt_timeout_seconds=self._attempt_timeout_seconds,
        )

    # --- GetTrip / CancelTrip ------------------------------------------------------------------------

    @_temporal_errors
    async def GetTrip(self, request: trip_pb2.GetTripRequest, context: Context) -> trip_pb2.Trip:
        trip_id = validation.require_trip_id(request.trip_id)
        try:
            state = await self._query(trip_id)
        except RPCError as err:
            if err.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
            # No worker answered in time (all down, or busy): the trip as of its last status
            # change, which the workflow keeps in its memo, beats a hanging call.
            return await listed_trip(await self._handle(trip_id).describe())
        return convert.trip_to_proto(state)

    @_temporal_errors
    async def CancelTrip(self, request: trip_pb2.CancelTripRequest, context: Context) -> trip_pb2.Trip:
        trip_id = validation.require_trip_id(request.trip_id)
        reason = validation.cancel_reason(request.reason)
        handle = self._handle(trip_id)
        try:
            state = await self._watched(
                context, handle.execute_update(TripWorkflow.cancel, CancelRequest(reason=reason))
            )
        except WorkflowUpdateFailedError as err:
            refusal = _update_refusal(err)
            if not (isinstance(refusal, FailedPrecondition) and refusal.reason == "TRIP_ENDED"):
                raise refusal from None
            state = await self._cancelled_before(trip_id)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # Unknown trip, or one whose workflow has closed: describe tells them apart.
            state = await self._cancelled_before(trip_id)
        return convert.trip_to_proto(state)

    async def _cancelled_before(self, trip_id: str) -> TripState:
        """CancelTrip of an ended trip: a cancelled one is the answer (a client sends the same
        CancelTrip again when it was told UNAVAILABLE); any other end is FAILED_PRECONDITION."""
        ended = await self._ended_state(trip_id)
        if ended.status != TripStatus.CANCELLED:
            raise FailedPrecondition("TRIP_ENDED", f"trip {trip_id} already ended {ended.status.name}")
        return ended

    async def _watched(self, context: Context, call: Awaitable[TripState]) -> TripState:
        """A call that may wait long (an update): UNAVAILABLE if Temporal goes away meanwhile."""
        return await watched(call, self._health, context.time_remaining())

    def _handle(self, trip_id: str) -> WorkflowHandle[TripWorkflow, TripState]:
        return self._client.get_workflow_handle_for(TripWorkflow.run, trip_id)

    async def _query(self, trip_id: str) -> TripState:
        _known_trip_id(trip_id)
        try:
            return await self._handle(trip_id).query(TripWorkflow.get_trip, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no trip {trip_id!r}") from None
            raise
        except WorkflowQueryFailedError as err:
            if "expected but not found" in err.message:  # a workflow of another type: no get_trip
                raise NotFound(f"{trip_id!r} is not a trip: {err.message}") from None
            # The worker could not answer (a replay failed): the trip exists, and saying NOT_FOUND
            # would tell the caller it was never booked.
            message = f"no worker could answer for trip {trip_id!r}: {err.message}"
            raise TemporalError("QUERY_FAILED", message, unknown=False) from None

    async def _ended_state(self, trip_id: str) -> TripState:
        """A closed trip as its memo holds it (final at close): no query, so no replay on a worker
        and no wait when none runs. Falls back to the query for a workflow without the memo."""
        _known_trip_id(trip_id)
        try:
            description = await self._handle(trip_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no trip {trip_id!r}") from None
            raise
        try:
            state: TripState = await description.memo_value(search_attributes.MEMO_TRIP, type_hint=TripState)
        except KeyError:
            return await self._query(trip_id)
        return state

    # --- ListTrips (orchestrator/trip_list.py) / WatchTrip (orchestrator/trip_watch.py) ---------------

    @_temporal_errors
    async def ListTrips(
        self, request: trip_pb2.ListTripsRequest, context: Context
    ) -> trip_pb2.ListTripsResponse:
        return await list_trips(self._client, request, self._hasher)

    @_temporal_stream_errors
    async def WatchTrip(
        self, request: trip_pb2.WatchTripRequest, context: Context
    ) -> AsyncIterator[trip_pb2.Trip]:
        trip_id = _known_trip_id(validation.require_trip_id(request.trip_id))
        history = self._handle(trip_id).fetch_history_events(
            wait_new_event=True, rpc_timeout=WATCH_POLL_TIMEOUT
        )
        async for trip in watch_trip(history, trip_id, functools.partial(self._read, trip_id)):
            yield trip

    async def _read(self, trip_id: str, closed: bool) -> TripState:
        """The trip now: from its memo once closed (no worker needed), else by query."""
        return await (self._ended_state(trip_id) if closed else self._query(trip_id))


def _known_trip_id(trip_id: str) -> str:
    """Trip ids all start with "trip-": anything else is no trip, without asking Temporal."""
    if not trip_id.startswith("trip-"):
        raise NotFound(f"no trip {trip_id!r}")
    return trip_id


def _update_refusal(err: WorkflowUpdateFailedError) -> Exception:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == "TripNotCancellable":
        reason = str(cause.details[0]) if cause.details else "TRIP_NOT_CANCELLABLE"
        return FailedPrecondition(reason, cause.message)
    return err


def _mismatch(request_id: str) -> AlreadyExists:
    """BookTrip reused a request_id for a different trip (running: the attach validator said so)."""
    return AlreadyExists(
        f"request_id {request_id!r} was already used for a different trip", reason="REQUEST_ID_REUSED"
    )

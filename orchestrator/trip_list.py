"""ListTrips: a page of trips from Temporal visibility, filtered by customer and status.

Visibility's own order is kept so pages never overlap: trips still running first (newest first),
then ended ones by end time, newest first (SQL visibility has no ORDER BY). Each trip comes from
the memo its workflow keeps, so listing asks no worker anything.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.trip.v1 import trip_pb2

from booking_runtime import page_token
from booking_runtime.errors import InvalidArgument
from orchestrator import convert, search_attributes, validation
from orchestrator.codec import CustomerHasher
from orchestrator.models import TripState, TripStatus

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


async def list_trips(
    client: Client, request: trip_pb2.ListTripsRequest, hasher: CustomerHasher | None
) -> trip_pb2.ListTripsResponse:
    """One page of the trips that match the request's filters, and the token of the next page."""
    if request.page_size < 0:
        raise InvalidArgument("page_size", "must be 0 (default 20) to 100")
    page_size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    customer_id = validation.list_customer(request.customer_id)
    try:
        status = convert.status_from_proto(request.status)
    except ValueError:
        raise InvalidArgument("status", f"unknown trip status {request.status}") from None
    query = list_query(customer_id, status, hasher)
    # A token this API did not hand out (or for other filters) is refused here, at once.
    token = page_token.unseal(request.page_token, query)
    executions = client.list_workflows(query, page_size=page_size, next_page_token=token)
    try:
        await executions.fetch_next_page()
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT and token:
            raise InvalidArgument("page_token", "not a token from a previous ListTrips") from None
        raise
    page = executions.current_page or []
    next_token = executions.next_page_token
    return trip_pb2.ListTripsResponse(
        trips=[await listed_trip(execution) for execution in page],
        next_page_token=page_token.seal(next_token or b"", query),
    )


def list_query(customer_id: str, status: TripStatus | None, hasher: CustomerHasher | None = None) -> str:
    """Visibility query of ListTrips; values are quoted so input cannot change the query."""
    clauses = ["WorkflowType = 'TripWorkflow'"]
    if customer_id and hasher is not None:
        # Hashed under any key, so trips indexed before a key rotation are still found.
        values = ", ".join(_quote(value) for value in hasher.every(customer_id))
        clauses.append(f"{search_attributes.TRIP_CUSTOMER_ID.name} IN ({values})")
    elif customer_id:
        clauses.append(f"{search_attributes.TRIP_CUSTOMER_ID.name} = {_quote(customer_id)}")
    if status is not None:
        clauses.append(f"{search_attributes.TRIP_STATUS.name} = {_quote(status.value)}")
    return " AND ".join(clauses)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def listed_trip(execution: WorkflowExecution) -> trip_pb2.Trip:
    """The trip from the memo the workflow keeps; bare ids and status if it has none yet."""
    try:
        state = await execution.memo_value(search_attributes.MEMO_TRIP, type_hint=TripState)
    except KeyError:
        state = None
    status = execution.typed_search_attributes.get(search_attributes.TRIP_STATUS) or ""
    if state is not None:
        trip = convert.trip_to_proto(state)
        # Visibility may be one status change ahead of the memo.
        trip.status = convert.status_to_proto(status) or trip.status
        return trip
    customer = execution.typed_search_attributes.get(search_attributes.TRIP_CUSTOMER_ID) or ""
    return trip_pb2.Trip(
        trip_id=execution.id,
        request_id=execution.id.removeprefix("trip-"),
        customer_id=customer,
        status=convert.status_to_proto(status),
        created_at=convert.timestamp(execution.start_time),
        updated_at=convert.timestamp(execution.close_time or execution.start_time),
    )

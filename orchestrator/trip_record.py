"""The trip as TripWorkflow keeps it: created from the input, touched at every change, indexed.

Every change bumps `version` (WatchTrip streams a trip when its version moves) and `updated_at`.
A status change is also written where clients read trips without asking a worker: the
`TripStatus` search attribute (ListTrips filters on it) and the memo (ListTrips shows it, and
GetTrip falls back to it). Workflow code: deterministic, `workflow.*` only.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from orchestrator import trip_metrics
    from orchestrator.models import StepState, TripInput, TripState, TripStatus, step_key
    from orchestrator.search_attributes import MEMO_TRIP, TRIP_CUSTOMER_ID, TRIP_STATUS
    from orchestrator.steps import STEPS


def new_trip(input: TripInput) -> TripState:
    """The trip before its first step: BOOKING, every step PENDING with its idempotency key."""
    now = workflow.now()
    return TripState(
        trip_id=input.trip_id,
        request=input.request,
        fingerprint=input.fingerprint,
        status=TripStatus.BOOKING,
        steps=[
            StepState(name=step.name, idempotency_key=step_key(input.trip_id, step.name)) for step in STEPS
        ],
        created_at=now,
        updated_at=now,
        ends_at=input.request.ends_at(),
        version=1,
    )


def touch(state: TripState) -> None:
    state.version += 1
    state.updated_at = workflow.now()


def set_status(state: TripState, status: TripStatus) -> None:
    state.status = status
    touch(state)
    trip_metrics.status_changed(state)
    workflow.upsert_search_attributes([TRIP_STATUS.value_set(status.value)])
    workflow.upsert_memo({MEMO_TRIP: state})


def index_at_start(state: TripState) -> None:
    """Index the trip unless its starter already did (the API sets both attributes at start).

    The memo holds the trip as of its last status change, so ListTrips shows full trips
    without querying each workflow.
    """
    workflow.upsert_memo({MEMO_TRIP: state})
    current = workflow.info().typed_search_attributes
    if current.get(TRIP_STATUS) is None or current.get(TRIP_CUSTOMER_ID) is None:
        workflow.upsert_search_attributes(
            [
                TRIP_STATUS.value_set(state.status.value),
                TRIP_CUSTOMER_ID.value_set(state.request.customer_id),
            ]
        )

"""What GetTrip says when the query itself fails (no servers: a handle whose query raises)."""

from __future__ import annotations

from typing import Any, cast

import grpc
import pytest
from temporalio.client import Client, WorkflowQueryFailedError

from booking_runtime.errors import ServiceError
from orchestrator.models import trip_id_for
from orchestrator.servicer import TripServicer

TRIP_ID = trip_id_for("r-query")


class FailingHandle:
    def __init__(self, message: str) -> None:
        self.message = message

    async def query(self, *_: Any, **__: Any) -> None:
        raise WorkflowQueryFailedError(self.message)


class FakeClient:
    def __init__(self, handle: FailingHandle) -> None:
        self.handle = handle

    def get_workflow_handle_for(self, run: Any, trip_id: str) -> FailingHandle:
        return self.handle


async def query_error(message: str) -> ServiceError:
    client = cast(Client, FakeClient(FailingHandle(message)))
    servicer = TripServicer(client, "tq", step_budget_seconds=60, attempt_timeout_seconds=5)
    with pytest.raises(ServiceError) as raised:
        await servicer._query(TRIP_ID)
    return raised.value


async def test_a_workflow_without_the_trip_query_is_not_a_trip() -> None:
    error = await query_error("Query handler for 'get_trip' expected but not found, known queries: []")
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert "is not a trip" in str(error)


async def test_a_worker_that_cannot_replay_the_trip_is_an_internal_error_not_a_missing_trip() -> None:
    """What the CI run of 2026-12-02 showed as NOT_FOUND "is not a trip" for a trip that existed."""
    error = await query_error("[TMPRL1100] Nondeterminism error: Non-deprecated patch marker encountered")
    assert error.code == grpc.StatusCode.INTERNAL
    assert TRIP_ID in str(error) and "Nondeterminism" in str(error)

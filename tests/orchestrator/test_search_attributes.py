"""Registering the trip's search attributes on a bare dev server, and using them at once.

The CI failure this guards against: the worker registered the attributes, and a BookTrip a moment
later was refused with "Namespace default has no mapping defined for search attribute TripStatus",
because the frontend still checked names against its cached namespace. The dev server here runs
with the stack's tuning (the cache is not refreshed on every read), as `make up` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from orchestrator import search_attributes
from tests.orchestrator.temporal_process import TemporalProcess

pytestmark = pytest.mark.temporal


@pytest.fixture
async def bare_server(tmp_path: Path) -> AsyncIterator[Client]:
    process = TemporalProcess(tmp_path)
    try:
        yield await process.start()
    finally:
        await process.stop()


async def test_a_trip_started_right_after_registration_is_accepted(bare_server: Client) -> None:
    added = await search_attributes.ensure_search_attributes(bare_server)
    assert sorted(added) == sorted(key.name for key in search_attributes.ALL_KEYS)

    handle = await bare_server.start_workflow(
        "TripWorkflow",
        id="trip-registered-just-now",
        task_queue="no-worker-listens-here",
        search_attributes=search_attributes.initial("fresh-customer", "PENDING"),
        execution_timeout=timedelta(minutes=1),
    )
    query = "TripCustomerId = 'fresh-customer' AND TripStatus = 'PENDING'"
    assert (await bare_server.count_workflows(query)).count in (0, 1)  # the query itself is accepted
    await handle.terminate("test over")


async def test_a_second_start_adds_nothing(bare_server: Client) -> None:
    await search_attributes.ensure_search_attributes(bare_server)
    assert await search_attributes.ensure_search_attributes(bare_server) == []


class CountingClient:
    """Stands in for the client in the waiting rules only: count_workflows fails with the given
    statuses in turn, then answers."""

    namespace = "default"

    def __init__(self, *failures: RPCStatusCode) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def count_workflows(self, query: str) -> object:
        self.calls += 1
        if self.failures:
            status = self.failures.pop(0)
            raise RPCError(f"refused ({status.name})", status, b"")
        return object()


@pytest.mark.parametrize("status", [RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.PERMISSION_DENIED])
async def test_a_server_or_caller_that_cannot_check_does_not_stop_the_start(status: RPCStatusCode) -> None:
    client = CountingClient(status)
    await search_attributes.wait_until_usable(client, timeout=5)  # type: ignore[arg-type]
    assert client.calls == 1


async def test_a_refused_name_is_asked_again_until_accepted() -> None:
    client = CountingClient(RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.INVALID_ARGUMENT)
    await search_attributes.wait_until_usable(client, timeout=5)  # type: ignore[arg-type]
    assert client.calls == 3


async def test_an_unreachable_server_fails_the_start_with_its_own_error() -> None:
    client = CountingClient(RPCStatusCode.UNAVAILABLE)
    with pytest.raises(RPCError) as raised:
        await search_attributes.wait_until_usable(client, timeout=5)  # type: ignore[arg-type]
    assert raised.value.status == RPCStatusCode.UNAVAILABLE


async def test_names_still_refused_at_the_deadline_fail_the_start_naming_them() -> None:
    client = CountingClient(*[RPCStatusCode.INVALID_ARGUMENT] * 100)
    with pytest.raises(RuntimeError, match=r"TripStatus.*not usable on namespace 'default'"):
        await search_attributes.wait_until_usable(client, timeout=0.2)  # type: ignore[arg-type]

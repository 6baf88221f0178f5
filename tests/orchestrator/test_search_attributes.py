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


async def test_a_second_start_adds_nothing_and_returns_at_once(bare_server: Client) -> None:
    await search_attributes.ensure_search_attributes(bare_server)
    assert await search_attributes.ensure_search_attributes(bare_server) == []

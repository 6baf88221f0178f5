"""The time-skipping Temporal test server, shared by the workflow and replay tests of this package."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from orchestrator.search_attributes import ensure_search_attributes
from tests.orchestrator.stack import TEMPORAL_TEST_SERVER


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEMPORAL_TEST_SERVER))
    await ensure_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()

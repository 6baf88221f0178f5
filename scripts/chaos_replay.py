"""`make chaos`'s replay check: every trip's history, fetched once the run has settled, must replay
on today's TripWorkflow.

The other invariants read what the trips did; this one reads whether a worker could rebuild them.
A history that does not replay leaves its trip stuck on the next worker restart, and GetTrip on it
fails once it has closed (docs/reliability.md, "Why a trip decides its patches ..."). GetTrip on a
closed trip reads its memo, so nothing else in the run would notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from orchestrator.worker import workflow_runner
from orchestrator.workflows import TripWorkflow
from scripts.chaos_observe import bounded


async def _history(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def _each(histories: Sequence[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def replay_failures(client: Client, workflow_ids: Iterable[str]) -> dict[str, str]:
    """Replay the latest run of each workflow; workflow id -> why it failed, "" when it replayed."""
    ids = sorted(workflow_ids)
    histories = await bounded(_history(client, workflow_id) for workflow_id in ids)
    replayer = Replayer(
        workflows=[TripWorkflow], workflow_runner=workflow_runner(), data_converter=client.data_converter
    )
    outcome: dict[str, str] = {}
    async with replayer.workflow_replay_iterator(_each(histories)) as results:
        async for result in results:
            failure = result.replay_failure
            outcome[result.history.workflow_id] = "" if failure is None else str(failure)[:400]
    return outcome

"""The sandbox the workflow and replay tests run refuses non-deterministic calls in workflow code.

Production runs TripWorkflow unsandboxed (TRIP_WORKFLOW_SANDBOX=off, for CPU), so the claim that CI
catches a clock, randomness or I/O in workflow code rests on orchestrator.worker.workflow_runner():
here a deliberately rule-breaking workflow runs under it and each such call is refused, while the
deterministic `workflow.*` twins go through.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from orchestrator.worker import workflow_runner
from orchestrator.workflows import TripWorkflow
from tests.orchestrator.rule_breaking_workflow import RuleBreakingWorkflow

pytestmark = pytest.mark.temporal


async def _run(env: WorkflowEnvironment, call: str) -> str:
    task_queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[RuleBreakingWorkflow], workflow_runner=workflow_runner()
    ):
        result: str = await env.client.execute_workflow(
            RuleBreakingWorkflow.run, call, id=f"{task_queue}-{call}", task_queue=task_queue
        )
        return result


@pytest.mark.parametrize("call", ["datetime.now", "time.time", "random.random", "open"])
async def test_a_non_deterministic_call_in_workflow_code_is_refused(
    time_env: WorkflowEnvironment, call: str
) -> None:
    with pytest.raises(WorkflowFailureError) as failed:
        await _run(time_env, call)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == "RestrictedWorkflowAccessError", (cause.type, cause.message)


async def test_the_deterministic_twins_are_allowed(time_env: WorkflowEnvironment) -> None:
    assert await _run(time_env, "workflow.now")


def test_trip_workflow_module_is_loaded_inside_the_sandbox() -> None:
    """Only modules without workflow code pass through; passing everything through (as this runner
    once did) would hand workflows.py the real datetime and random, unrestricted."""
    runner = workflow_runner()
    assert isinstance(runner, SandboxedWorkflowRunner)
    restrictions = runner.restrictions
    assert not restrictions.passthrough_all_modules
    for module in (TripWorkflow.__module__, RuleBreakingWorkflow.__module__):
        parts = module.split(".")
        prefixes = {".".join(parts[:end]) for end in range(1, len(parts) + 1)}
        assert not prefixes & restrictions.passthrough_modules, module

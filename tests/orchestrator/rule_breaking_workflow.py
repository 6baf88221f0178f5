"""A workflow that breaks the determinism rules on purpose, for tests/orchestrator/test_sandbox.py.

It is written the way orchestrator/workflows.py is (our modules imported through
`imports_passed_through`, the standard library at the top), and lives in its own module because the
sandbox loads a workflow's module afresh for each run: that is where the restrictions apply.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from orchestrator import retry


@workflow.defn(name="RuleBreakingWorkflow", failure_exception_types=[Exception])
class RuleBreakingWorkflow:
    """Does what `call` names; a refused call fails the run (rather than retrying its task for ever)."""

    @workflow.run
    async def run(self, call: str) -> str:
        if call == "datetime.now":
            return datetime.now().isoformat()
        if call == "time.time":
            return str(time.time())
        if call == "random.random":
            return str(random.random())
        if call == "open":
            with open(__file__) as source:  # noqa: ASYNC230 (I/O in workflow code: the point)
                return source.readline()
        # The deterministic twins, which the sandbox allows.
        return f"{workflow.now().isoformat()} {workflow.random().random()} {retry.backoff_seconds(0)}"

"""A worker interceptor that loses one workflow task after its local activities have acted.

The trip's steps are local activities: they run inside a workflow task, and their results reach the
history only when that task completes. If the worker or the Temporal server dies first, the next
task replays from the last recorded event, and nothing records what the lost task booked. Failing
the task on purpose, once, at the moment the workflow starts a given activity, reproduces that
deterministically: the steps before it have booked at the (fake) services, and the history never
says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.worker import (
    Interceptor,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)


class LostWorkflowTask(RuntimeError):
    """Raised in workflow code: not a FailureError, so the SDK fails the task and Temporal retries it."""


@dataclass
class LoseTaskOnce(Interceptor):
    """Fail the first workflow task that starts the local activity named `before`."""

    before: str
    fired: bool = False

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        lose = self

        class Outbound(WorkflowOutboundInterceptor):
            def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
                if input.activity == lose.before and not lose.fired:
                    lose.fired = True
                    raise LostWorkflowTask(f"workflow task lost before {lose.before} (test)")
                return super().start_local_activity(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound

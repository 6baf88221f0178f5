"""Readiness probe for a Temporal worker: its task queue has pollers."""

from __future__ import annotations

import asyncio
import time

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client


async def wait_for_pollers(client: Client, task_queue: str, timeout: float = 60.0) -> None:
    """Wait until some worker polls `task_queue` for workflow tasks (so a start is picked up at once)."""
    deadline = time.monotonic() + timeout
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while time.monotonic() < deadline:
        reply = await client.workflow_service.describe_task_queue(request)
        if reply.pollers:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no worker polls task queue {task_queue!r} after {timeout:.0f}s")

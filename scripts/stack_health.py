"""Ports and readiness probes: a free port, gRPC health for servers, live pollers for the worker.

The stack, the benchmarks and the tests all use these (tests through tests/support/processes.py).
"""

from __future__ import annotations

import asyncio
import socket
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from booking_runtime import tls


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_grpc_serving(
    address: str, timeout: float = 60.0, service: str = "", tls_settings: tls.TlsSettings | None = None
) -> None:
    """Wait until `grpc.health.v1.Health/Check` for `service` at `address` answers SERVING.

    Over TLS when `tls_settings` (default: this process's TRIP_TLS_* variables) has a CA.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    async with tls.aio_channel(address, settings=tls_settings) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError as exc:
                last_error = exc
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{address} not SERVING after {timeout:.0f}s (last error: {last_error})")


async def wait_for_pollers(
    client: Client, task_queue: str, pid: int | None = None, timeout: float = 60.0
) -> None:
    """Wait until a worker polls `task_queue` for workflow tasks.

    With `pid`, only a poller whose identity is that process's (the SDK's default identity is
    `pid@host`) counts, so a stale poller of an earlier worker cannot make a new one look ready.
    """
    deadline = time.monotonic() + timeout
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while time.monotonic() < deadline:
        reply = await client.workflow_service.describe_task_queue(request)
        if any(pid is None or poller.identity.startswith(f"{pid}@") for poller in reply.pollers):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no worker polls task queue {task_queue!r} after {timeout:.0f}s")

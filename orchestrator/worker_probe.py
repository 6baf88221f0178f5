"""`python -m orchestrator.worker_probe`: is a worker on this host polling its task queue?

The worker serves no port to probe, so this asks Temporal instead: healthy (exit 0) when a poller
whose identity is the SDK's default `pid@<this host>` has polled the workflow task queue within
`--max-age` seconds. Run inside the worker's container (Docker HEALTHCHECK, a Kubernetes exec probe)
the host name is the container's, so it answers for that worker alone. It reads the worker's own
settings from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TRIP_TASK_QUEUE, TLS, API key).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from orchestrator.config import parse_settings
from orchestrator.temporal_client import connect, connect_config


async def polling_here(max_age: timedelta, host: str, timeout: float) -> list[str]:
    """Identities of this host's pollers seen within `max_age` on the trip task queue."""
    settings = parse_settings("python -m orchestrator.worker_probe", "", [])
    client = await connect(connect_config(settings), timeout)
    reply = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=timeout),
    )
    now = datetime.now(UTC)
    return [
        poller.identity
        for poller in reply.pollers
        if poller.identity.endswith(f"@{host}") and now - poller.last_access_time.ToDatetime(UTC) <= max_age
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.worker_probe", description=__doc__)
    # A worker's long poll lasts about a minute, then it polls again: three minutes spans a quiet spell.
    parser.add_argument("--max-age", type=float, default=180.0, help="seconds since the last poll")
    parser.add_argument("--host", default=socket.gethostname(), help="host part of the worker identity")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to reach Temporal")
    args = parser.parse_args(argv)
    try:
        found = asyncio.run(polling_here(timedelta(seconds=args.max_age), args.host, args.timeout))
    except Exception as err:  # Temporal unreachable: unhealthy, with the reason
        print(f"worker probe: {err}")
        found = []
    else:
        print(f"pollers on {args.host}: {', '.join(found) or 'none'}")
    sys.stdout.flush()
    # os._exit, not sys.exit: interpreter shutdown with the SDK's core threads still running can abort
    # (SIGABRT, "PyGILState_Release"), which a health check would read as a failure.
    os._exit(0 if found else 1)


if __name__ == "__main__":
    main()

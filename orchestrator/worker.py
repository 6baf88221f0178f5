"""`python -m orchestrator.worker`: runs TripWorkflow and the booking activities on the task queue.

It registers the search attributes it uses, opens one channel per booking service, and on SIGTERM or
SIGINT stops polling and lets running tasks finish (Temporal hands anything left to another worker).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import (
    Interceptor,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkerDeploymentConfig,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from booking_runtime.server import log_event, run
from orchestrator import codec
from orchestrator.activities import BookingActivities
from orchestrator.config import Settings, parse_settings
from orchestrator.observability import configure_sdk_logging
from orchestrator.temporal_client import connect_and_prepare
from orchestrator.versioning import deployment_config, make_current
from orchestrator.worker_health import WorkerHealth
from orchestrator.workflows import TripWorkflow

# What TripWorkflow's module imports that holds no workflow code: loaded once, outside the sandbox
# (the standard library and temporalio are passed through by default). The workflow module itself
# is not on this list: the sandbox loads it afresh for each trip, with Temporal's default
# restrictions, so a clock, randomness or I/O in workflow code is refused.
PASSED_THROUGH = (
    "orchestrator.models",
    "orchestrator.retry",
    "orchestrator.search_attributes",
    "orchestrator.steps",
    "orchestrator.trip_metrics",
)


def workflow_runner(sandboxed: bool = True) -> WorkflowRunner:
    """The runner for TripWorkflow: the sandbox (tests, and on request) or none (production default).

    The sandbox refuses non-deterministic calls (clocks, randomness, I/O) in workflow code at run
    time. Without it the worker spends much less CPU per trip (docs/performance.md, "Worker"). The
    workflow tests and the replay tests always use the sandbox, so a non-deterministic call in
    workflows.py fails CI before it reaches a worker that runs without it
    (tests/orchestrator/test_sandbox.py proves the refusal); the end-to-end tests run the worker
    process as production does.
    """
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    )


def build_worker(
    client: Client,
    task_queue: str,
    activities: Sequence[Any],
    *,
    max_concurrent_workflow_tasks: int = 100,
    max_concurrent_local_activities: int = 200,
    max_cached_workflows: int = 100,
    sandboxed: bool = True,
    interceptors: Sequence[Interceptor] = (),
    deployment: WorkerDeploymentConfig | None = None,
) -> Worker:
    """The worker as production runs it; tests pass fake activities registered under the same names."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[TripWorkflow],
        activities=list(activities),
        workflow_runner=workflow_runner(sandboxed),
        interceptors=list(interceptors),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        max_concurrent_local_activities=max_concurrent_local_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
        # A crashed worker's trips move to another worker after this long (SDK default 10 s).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=5),
        deployment_config=deployment,  # None: unversioned (orchestrator/versioning.py)
    )


async def serve(settings: Settings) -> None:
    configure_sdk_logging()
    health = WorkerHealth(settings.health_addr) if settings.health_addr else None
    if health is not None:
        await health.start()
    client, added = await connect_and_prepare(settings, codec.from_env())  # TRIP_CODEC_KEYS
    if added:
        log_event("worker", "search_attributes_added", names=added)
    activities = BookingActivities(settings.flight_addr, settings.hotel_addr, settings.cab_addr)
    versioned = deployment_config(settings.worker_deployment, settings.worker_build_id)
    worker = build_worker(
        client,
        settings.task_queue,
        activities.all(),
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_concurrent_local_activities=settings.max_concurrent_local_activities,
        max_cached_workflows=settings.max_cached_workflows,
        sandboxed=settings.workflow_sandbox,
        deployment=versioned,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with worker:
            if health is not None:
                health.follow(lambda: worker.is_running)
            log_event(
                "worker",
                "polling",
                task_queue=settings.task_queue,
                namespace=client.namespace,
                workflow_sandbox=settings.workflow_sandbox,
                **({"version": versioned.version.to_canonical_string()} if versioned else {}),
            )
            if versioned is not None and settings.worker_promote:
                await make_current(client, versioned.version)
                log_event("worker", "current_version", version=versioned.version.to_canonical_string())
            await stop.wait()
            log_event("worker", "draining")
            if health is not None:
                await health.draining()
    finally:
        if health is not None:
            await health.stop()
        await activities.close()
        log_event("worker", "stopped")


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(
        "python -m orchestrator.worker",
        "Run the TripWorkflow worker (the saga and its booking activities).",
        argv,
    )
    run(lambda: serve(settings), telemetry_name="trip-worker")


if __name__ == "__main__":
    main()

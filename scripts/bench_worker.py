"""The orchestrator worker with each worker-side lever as a flag, for measuring them.

Same workflow, activities and environment as `python -m orchestrator.worker`; only the runner,
cache, pollers and event loop change. `python -m scripts.bench --worker-flags "..."` runs this
instead of the real worker, so a lever is measured before it is proposed for orchestrator/.

    python -m scripts.bench_worker --runner unsandboxed --max-cached 1000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal
from datetime import timedelta

import uvloop
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from orchestrator.activities import BookingActivities
from orchestrator.search_attributes import ensure_search_attributes
from orchestrator.temporal_client import connect
from orchestrator.workflows import TripWorkflow


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runner",
        choices=["sandbox", "passthrough-all", "unsandboxed"],
        default="passthrough-all",
        help="sandbox: default restrictions, nothing passed through; passthrough-all: every module passed "
        "through (what orchestrator.worker does); unsandboxed: no sandbox",
    )
    parser.add_argument("--max-cached", type=int, default=1000, help="max_cached_workflows")
    parser.add_argument("--wft-polls", type=int, default=None, help="max_concurrent_workflow_task_polls")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--profile", default=None, help="write cProfile stats here on exit")
    return parser.parse_args()


def runner_for(name: str) -> WorkflowRunner:
    if name == "unsandboxed":
        return UnsandboxedWorkflowRunner()
    if name == "passthrough-all":
        return SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        )
    return SandboxedWorkflowRunner()


async def serve(args: argparse.Namespace) -> None:
    env = os.environ
    task_queue = env.get("TRIP_TASK_QUEUE", "trip-booking")
    client = await connect(
        env.get("TEMPORAL_ADDRESS", "localhost:7233"), env.get("TEMPORAL_NAMESPACE", "default"), 30.0
    )
    await ensure_search_attributes(client)
    activities = BookingActivities(
        env.get("FLIGHT_SVC_ADDR", "localhost:50051"),
        env.get("HOTEL_SVC_ADDR", "localhost:50052"),
        env.get("CAB_SVC_ADDR", "localhost:50053"),
    )
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[TripWorkflow],
        activities=activities.all(),
        workflow_runner=runner_for(args.runner),
        max_cached_workflows=args.max_cached,
        max_concurrent_workflow_task_polls=args.wft_polls,
        max_concurrent_workflow_tasks=100,
        max_concurrent_local_activities=200,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with worker:
            print(f"bench worker polling {task_queue} ({vars(args)})", flush=True)
            await stop.wait()
    finally:
        await activities.close()


def main() -> None:
    args = parse_args()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        if args.loop == "uvloop":
            uvloop.run(serve(args))
        else:
            asyncio.run(serve(args))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()

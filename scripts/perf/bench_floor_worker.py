"""Worker process for the floor benchmark, with every worker-side lever as a flag."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from scripts.perf.bench_floor_workflow import FloorWorkflow, noop_step


def build_worker(client: Client, task_queue: str, args: argparse.Namespace) -> Worker:
    """A worker for FloorWorkflow configured from the command line flags."""
    if args.runner == "sandbox":
        runner: object = SandboxedWorkflowRunner()
    elif args.runner == "passthrough":
        runner = SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("scripts")
        )
    else:
        runner = UnsandboxedWorkflowRunner()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[FloorWorkflow],
        activities=[noop_step],
        workflow_runner=runner,  # type: ignore[arg-type]
        max_cached_workflows=args.max_cached,
        max_concurrent_workflow_task_polls=args.wft_polls,
        max_concurrent_workflow_tasks=args.max_wft,
    )


def add_worker_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runner", choices=["sandbox", "passthrough", "unsandboxed"], default="sandbox")
    parser.add_argument("--max-cached", type=int, default=1000)
    parser.add_argument("--wft-polls", type=int, default=None)
    parser.add_argument("--max-wft", type=int, default=None)
    parser.add_argument("--uvloop", action="store_true")


async def serve(args: argparse.Namespace) -> None:
    client = await Client.connect(args.address)
    worker = build_worker(client, args.task_queue, args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print("worker ready", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    add_worker_flags(parser)
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(serve(args))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))


if __name__ == "__main__":
    main()

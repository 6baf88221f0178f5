"""Temporal's floor on this machine: a no-op three-step saga, one lever at a time.

Starts a dev server with the given SQLite pragmas and dynamic config, a worker
process with the given worker flags, and drives FloorWorkflow at each
concurrency. Prints latency, throughput and CPU per workflow for the server,
the worker and this client, and appends a JSON line to var/bench/floor.jsonl.

    python -m scripts.perf.bench_floor --label baseline --no-tuning
    python -m scripts.perf.bench_floor --label tuned --runner unsandboxed --mode uws
    python -m scripts.perf.bench_floor --label parallel --runner unsandboxed --parallel
    python -m scripts.perf.bench_floor --label regular --runner unsandboxed --regular-activities
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from scripts.bench_measure import ProcessMeter, run_load
from scripts.perf.bench_floor_worker import add_worker_flags, build_worker
from scripts.perf.bench_floor_workflow import FloorShape, FloorWorkflow
from scripts.stack_health import wait_for_pollers
from scripts.stack_process import ChildProcess
from scripts.stack_temporal import (
    ROOT,
    TUNED_DYNAMIC_CONFIG,
    TUNED_PRAGMAS,
    TemporalDevServer,
    wait_temporal_ready,
)

TASK_QUEUE = "floor"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="run")
    parser.add_argument("--mode", choices=["start", "uws", "eager"], default="uws")
    parser.add_argument("--no-tuning", action="store_true", help="no pragmas, no dynamic config")
    parser.add_argument("--pragma", action="append", default=None)
    parser.add_argument("--dc", action="append", default=[], help="KEY=JSON dynamic config (repeatable)")
    parser.add_argument("--memory-db", action="store_true", help="no --db-filename (in-memory SQLite)")
    parser.add_argument("--levels", default="1,50")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level")
    parser.add_argument("--port", type=int, default=17233)
    parser.add_argument("--parallel", action="store_true", help="hotel and cab at once after the flight")
    parser.add_argument("--regular-activities", action="store_true", help="activities, not local activities")
    add_worker_flags(parser)
    return parser.parse_args()


def server_for(args: argparse.Namespace, state: Path) -> TemporalDevServer:
    dynamic: dict[str, object] = {} if args.no_tuning else dict(TUNED_DYNAMIC_CONFIG)
    for item in args.dc:
        key, _, value = item.partition("=")
        dynamic[key] = json.loads(value)
    pragmas = () if args.no_tuning else TUNED_PRAGMAS
    if args.pragma is not None:
        pragmas = tuple(p for p in args.pragma if p)
    return TemporalDevServer(
        port=args.port,
        ui_port=None,
        db_filename=None if args.memory_db else state / "temporal.db",
        pragmas=pragmas,
        dynamic_config=dynamic,
    )


def worker_argv(args: argparse.Namespace, address: str) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "scripts.perf.bench_floor_worker",
        "--address",
        address,
        "--task-queue",
        TASK_QUEUE,
    ]
    argv += ["--runner", args.runner, "--max-cached", str(args.max_cached)]
    if args.wft_polls is not None:
        argv += ["--wft-polls", str(args.wft_polls)]
    if args.max_wft is not None:
        argv += ["--max-wft", str(args.max_wft)]
    if args.uvloop:
        argv.append("--uvloop")
    return argv


async def one_workflow(client: Client, args: argparse.Namespace, run_id: str, index: int) -> None:
    workflow_id = f"floor-{run_id}-{index}"
    mode = args.mode
    # update-with-start waits for the update, so the workflow may linger; start waits for the end.
    shape = FloorShape(linger=mode == "uws", parallel=args.parallel, local=not args.regular_activities)
    if mode == "uws":
        start = WithStartWorkflowOperation(
            FloorWorkflow.run,
            shape,
            id=workflow_id,
            task_queue=TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await client.execute_update_with_start_workflow(
            FloorWorkflow.outcome_update, start_workflow_operation=start
        )
    else:
        handle = await client.start_workflow(
            FloorWorkflow.run,
            shape,
            id=workflow_id,
            task_queue=TASK_QUEUE,
            request_eager_start=mode == "eager",
        )
        await handle.result()


async def measure(args: argparse.Namespace) -> None:
    state = Path(
        tempfile.mkdtemp(prefix="floor-", dir=ROOT / "var" / "bench" if (ROOT / "var").exists() else None)
    )
    server = server_for(args, state)
    temporal = ChildProcess("temporal", server.argv(), env={}, cwd=ROOT, log_path=state / "temporal.log")
    temporal.start()
    worker_proc: ChildProcess | None = None
    try:
        client = await wait_temporal_ready(server.address)
        pids = {"temporal": temporal.pid, "client": os.getpid()}
        if args.mode == "eager":
            in_process = build_worker(client, TASK_QUEUE, args)
            run_worker = asyncio.create_task(in_process.run())
        else:
            worker_proc = ChildProcess(
                "worker", worker_argv(args, server.address), env={}, cwd=ROOT, log_path=state / "worker.log"
            )
            worker_proc.start()
            pids["worker"] = worker_proc.pid
        await wait_for_pollers(client, TASK_QUEUE)
        run_id = uuid.uuid4().hex[:8]
        levels = [int(x) for x in args.levels.split(",")]
        await run_load(lambda i: one_workflow(client, args, run_id, i), concurrency=1, count=20)
        await run_load(
            lambda i: one_workflow(client, args, run_id, i),
            concurrency=max(levels),
            count=2 * max(levels),
            first_index=100,
        )
        next_index = 10_000
        for level in levels:
            meter = ProcessMeter(pids)
            meter.start()
            result = await run_load(
                lambda i: one_workflow(client, args, run_id, i),
                concurrency=level,
                duration_s=args.duration,
                first_index=next_index,
            )
            usage = await meter.stop()
            next_index += 1_000_000
            per = {name: u.cpu_s * 1000 / max(1, result.count) for name, u in usage.items()}
            row = {
                "label": args.label,
                "mode": args.mode,
                "runner": args.runner,
                "parallel": args.parallel,
                "regular_activities": args.regular_activities,
                "concurrency": level,
                "count": result.count,
                "errors": len(result.errors),
                "p50_ms": round(result.percentile(50), 2),
                "p99_ms": round(result.percentile(99), 2),
                "per_s": round(result.throughput, 1),
                "cpu_ms": {k: round(v, 2) for k, v in per.items()},
                "rss_mb": {k: round(u.peak_rss_mb, 1) for k, u in usage.items()},
                "server": server.argv()[3:],
                "worker": worker_argv(args, "")[3:],
            }
            cpu = " ".join(f"{k}={v:.2f}" for k, v in per.items())
            print(
                f"{args.label:<24} c={level:<4} p50={row['p50_ms']:>7}ms p99={row['p99_ms']:>7}ms "
                f"{row['per_s']:>7}/s err={len(result.errors)} cpu/wf[{cpu}]",
                flush=True,
            )
            if result.errors:
                print("  first error:", result.errors[0])
            out = ROOT / "var" / "bench" / "floor.jsonl"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
        if args.mode == "eager":
            run_worker.cancel()
    finally:
        if worker_proc is not None:
            await worker_proc.stop()
        await temporal.stop()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    asyncio.run(measure(args))
    print(f"  ({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()

"""`make bench`: BookTrip through the whole stack against the same three bookings made directly.

Both run in one go on one stack: (a) `direct`: BookFlight, ReserveHotel and ScheduleCab in
sequence over gRPC, no Temporal; (b) `booktrip`: TripService.BookTrip with wait_for_outcome,
through the API, Temporal and the worker's saga. Each at every concurrency level (closed loop,
fresh request ids, inventory spread so nothing sells out), after a warm-up. Prints p50/p99,
trips/s, the ratio to the baseline, CPU ms per trip and peak RSS per process; writes
var/bench/results.json and var/bench/results.png.

    python -m scripts.bench                          # own stack on free ports, c=1,50,200, 10 s each
    python -m scripts.bench --duration 5 --levels 1,50
    python -m scripts.bench --use-running            # the stack `make up` runs (ORCHESTRATOR_ADDR, ...)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from tqdm import tqdm

from scripts.bench_calls import Call, Clients, booktrip_call, direct_call
from scripts.bench_measure import LoadResult, ProcessMeter, run_load
from scripts.bench_report import LevelReport, format_table, write_json, write_png
from scripts.bench_workload import Workload
from scripts.stack import Stack, StackOptions, StackPorts
from scripts.stack_observe import ObservePorts
from scripts.stack_ports import running_addresses
from scripts.stack_secure import SecureStackParts
from scripts.stack_temporal import ROOT, TemporalDevServer

OUT_DIR = ROOT / "var" / "bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--levels", default="1,50,200", help="concurrency levels, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per level")
    parser.add_argument("--count", type=int, default=None, help="trips per level instead of --duration")
    parser.add_argument(
        "--warmup", type=int, default=None, help="warm-up trips per level (default 2*c, >=20)"
    )
    parser.add_argument("--modes", default="direct,booktrip", help="which of direct,booktrip to run")
    parser.add_argument(
        "--use-running", action="store_true", help="measure the stack at the *_ADDR variables"
    )
    parser.add_argument("--quiet-services", action="store_true", help="services' per-call JSON log off")
    parser.add_argument(
        "--secure",
        action="store_true",
        help="everything on (mutual TLS, TRIP_AUTH=jwt, TRIP_CODEC_KEYS), as STACK_SECURE=1 runs it",
    )
    parser.add_argument(
        "--observe",
        action="store_true",
        help="everything of docs/operations.md on: traces to an OTLP receiver in this process, every "
        "/metrics, the worker's health (Prometheus itself is not started)",
    )
    parser.add_argument(
        "--worker-flags",
        default=None,
        help="extra flags for orchestrator.worker, to measure a worker lever, "
        'e.g. "--workflow-sandbox on" or "--max-cached-workflows 1000"',
    )
    parser.add_argument(
        "--temporal-dc",
        action="append",
        default=[],
        help="extra dev-server dynamic config KEY=JSON (repeatable)",
    )
    parser.add_argument(
        "--temporal-env",
        action="append",
        default=[],
        help="environment of the dev server, KEY=VALUE (repeatable)",
    )
    parser.add_argument(
        "--no-tuning", action="store_true", help="dev server without pragmas and dynamic config"
    )
    parser.add_argument("--keep-state", action="store_true", help="keep the stack's databases and logs")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where results.json/.png go")
    return parser.parse_args(argv)


def running_stack_pids() -> dict[str, int]:
    """Find the processes of a stack started elsewhere, by listening port or command line."""
    by_port = {int(addr.rsplit(":", 1)[1]): name for name, addr in running_addresses().items()}
    pids: dict[str, int] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in by_port and conn.pid:
            pids.setdefault(by_port[conn.laddr.port], conn.pid)
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if "orchestrator.worker" in (proc.info["cmdline"] or []):
            pids["worker"] = proc.info["pid"]
    return pids


async def measure_level(
    mode: str, call: Call, concurrency: int, args: argparse.Namespace, pids: dict[str, int], start_index: int
) -> LevelReport:
    warmup = args.warmup if args.warmup is not None else max(20, 2 * concurrency)
    await run_load(call, concurrency=concurrency, count=warmup, first_index=start_index)
    bar = tqdm(
        desc=f"{mode:<8} c={concurrency:<4}", total=args.count, unit="trip", leave=False, file=sys.stderr,
        mininterval=0.5,
    )  # fmt: skip
    meter = ProcessMeter(pids)
    meter.start()
    result: LoadResult = await run_load(
        call,
        concurrency=concurrency,
        count=args.count,
        duration_s=None if args.count else args.duration,
        first_index=start_index + warmup,
        on_done=lambda: bar.update(1),
    )
    usage = await meter.stop()
    bar.close()
    report = LevelReport.build(mode, result, usage, meter.machine_busy_share)
    print(
        f"{mode:<8} c={concurrency:<4} p50 {report.p50_ms:7.1f} ms  p99 {report.p99_ms:7.1f} ms  "
        f"{report.trips_per_s:7.1f} trips/s  errors {report.errors}  CPU busy {report.machine_busy_pct:.0f}% "
        f"(others {report.others_busy_pct:.0f}%)",
        flush=True,
    )
    if report.errors:
        print(f"  first error: {report.first_error}", flush=True)
    return report


async def run_all(
    args: argparse.Namespace,
    addresses: dict[str, str],
    pids: dict[str, int],
    secure: SecureStackParts | None = None,
) -> list[LevelReport]:
    workload = Workload.from_catalogs(datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    clients = Clients(addresses, secure)
    calls = {"direct": direct_call(clients, workload), "booktrip": booktrip_call(clients, workload)}
    levels = [int(x) for x in args.levels.split(",")]
    reports: list[LevelReport] = []
    try:
        # Index blocks per (mode, level) keep every request id and inventory slot fresh.
        block = 0
        for mode in [m for m in args.modes.split(",") if m]:
            for concurrency in levels:
                block += 1
                reports.append(
                    await measure_level(
                        mode,
                        calls[mode],
                        concurrency,
                        args,
                        {**pids, "bench": os.getpid()},
                        block * 1_000_000,
                    )
                )
    finally:
        await clients.close()
    return reports


def dev_server(args: argparse.Namespace) -> TemporalDevServer:
    """The tuned dev server of `make up`, or the untuned one, plus any --temporal-dc values."""
    server = TemporalDevServer(pragmas=(), dynamic_config={}) if args.no_tuning else TemporalDevServer()
    for item in args.temporal_dc:
        key, _, value = item.partition("=")
        server.dynamic_config[key] = json.loads(value)
    for item in args.temporal_env:
        key, _, value = item.partition("=")
        server.env[key] = value
    return server


def stack_label(args: argparse.Namespace) -> str:
    """What was measured, for results.json: the running stack, or ours with its server and worker levers."""
    if args.use_running:
        return "running (--use-running)"
    parts = ["untuned dev server (--no-tuning)" if args.no_tuning else "tuned dev server"]
    if args.secure:
        parts.append("secure (mTLS, JWT, codec)")
    parts += [f"--temporal-dc {item}" for item in args.temporal_dc]
    parts += [f"--temporal-env {item}" for item in args.temporal_env]
    if args.worker_flags:
        parts.append(f"worker {args.worker_flags}")
    return f"own (scripts.stack, {', '.join(parts)})"


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    run_dir: Path | None = None
    if args.use_running:
        stack = None
        addresses = running_addresses()
        pids = running_stack_pids()
    else:
        run_dir = args.out / f"stack-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        env = {f"{n}_LOG_CALLS": "0" for n in ("FLIGHT", "HOTEL", "CAB")} if args.quiet_services else {}
        stack = Stack(
            StackOptions(
                ports=StackPorts.free(),
                state_dir=run_dir,
                log_dir=run_dir / "logs",
                env=env,
                server=dev_server(args),
                worker_args=shlex.split(args.worker_flags or ""),
                secure=args.secure,
                observe=ObservePorts.free() if args.observe else None,
                prometheus=False,
            )
        )
        print(f"starting a stack in {run_dir} ...", flush=True)
        await stack.start()
        addresses, pids = stack.addresses, stack.pids()
    try:
        reports = await run_all(args, addresses, pids, stack.secure if stack is not None else None)
    finally:
        if stack is not None:
            await stack.stop()
    print()
    print(format_table(reports))
    memory_mb = psutil.virtual_memory().total // 2**20
    meta: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} CPUs, {memory_mb} MB",
        "python": platform.python_version(),
        "stack": stack_label(args),
        "args": {k: str(v) for k, v in vars(args).items()},
        "seconds": round(time.monotonic() - started, 1),
    }
    write_json(args.out / "results.json", reports, meta)
    write_png(args.out / "results.png", reports)
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'results.png'}")
    failed = any(r.errors for r in reports)
    if run_dir is not None:
        if failed or args.keep_state:
            print(f"the stack's databases and logs are in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)  # a run's databases are only worth keeping to debug
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(asyncio.run(main_async(parse_args(argv))))


if __name__ == "__main__":
    main()

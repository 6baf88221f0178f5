"""`make chaos`: many trips through the API while every part of the suite is killed and restarted, then
every invariant of the saga and of the API's answers checked against what the services hold.

A seeded scheduler (scripts/chaos_plan.py) decides the trips (duplicates, changed bodies, cancels at
random moments, trips aimed at a nearly sold-out hotel) and the faults: SIGKILL and restart of each
booking service, the worker, the API and the Temporal dev server (back on its db file and port), the
Temporal server and the worker killed close together, services restarted with lost requests or lost
replies (their *_FAULT_* variables), and graceful restarts (SIGTERM) of the services and the API.
With `--replicas/--workers/--apis` the stack is scaled out (docs/deploy.md): the services' replicas
share the run's PostgreSQL database, the clients spread their calls over every API, each fault hits
one replica, worker or API, and the run also checks that every one of them did work.
Clients retry only UNAVAILABLE and DEADLINE_EXCEEDED, with the same request. Once the faults stop and
the trips settle, the checks of scripts/chaos_invariants.py run; the table goes to stdout, every detail
to a JSON report, and the exit code is 1 when an invariant broke.

    python -m scripts.chaos                            # 300 trips, seed 7
    python -m scripts.chaos --trips 1000 --seed 7      # what issue 8's fix is proven with
    make chaos ARGS="--trips 1000 --seed 7 --db postgres"
    make chaos ARGS="--replicas 2 --workers 2 --apis 2"   # scaled out, single replicas killed
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from tripbooking.trip.v1 import trip_pb2_grpc

from scripts import chaos_observe as observe
from scripts.chaos_clients import TripClients
from scripts.chaos_config import ChaosConfig
from scripts.chaos_config import parse_args as parse_config
from scripts.chaos_db import open_databases
from scripts.chaos_faults import FaultInjector, FaultLog
from scripts.chaos_invariants import Invariant, check_all
from scripts.chaos_plan import (
    FAULT_LANES,
    SERVICES,
    Catalogs,
    fault_events,
    plan_trips,
)
from scripts.chaos_replay import replay_failures
from scripts.chaos_report import answer_counts, render, trip_counts, write
from scripts.chaos_stack import ChaosStack
from scripts.chaos_work import observe_work
from scripts.stack import Stack, StackOptions, StackPorts
from scripts.stack_scale import instance_names
from scripts.stack_temporal import ROOT, wait_temporal_ready


async def _progress(clients: TripClients, log: FaultLog, total: int, say: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(15)
        say(
            f"chaos: {time.monotonic() - log.started:.0f}s: trips started {clients.started}/{total}, "
            f"done {clients.finished}, faults {len(log.events)}"
        )


async def run_chaos(config: ChaosConfig) -> tuple[int, dict[str, Any], list[Invariant]]:
    """One run: start the stack, book under faults, settle, check. Returns (exit code, report, checks)."""
    say: Callable[[str], None] = (lambda _: None) if config.quiet else (lambda text: print(text, flush=True))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = config.state_dir or ROOT / "var" / "chaos" / f"{stamp}-seed{config.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    report_path = config.report or run_dir / "report.json"
    seconds: dict[str, float] = {}
    began = time.monotonic()
    scaled = config.plan.scaled
    # Replicas share one database: "auto" must then find PostgreSQL (or fail saying so).
    databases = await open_databases("postgres" if config.replicas > 1 else config.db, run_dir)
    options = StackOptions(
        ports=StackPorts.free(),
        state_dir=run_dir,
        log_dir=run_dir / "logs",
        env={"TRIP_STEP_BUDGET_SECONDS": f"{config.step_budget:g}", **databases.env()},
        scale=config.scale,
        postgres_dsn=databases.dsn if config.replicas > 1 else None,  # one of each: as it always ran
    )
    stack = Stack(options)
    chaos: ChaosStack | None = None
    faults: asyncio.Task[None] | None = None
    try:
        say(f"chaos: starting the stack ({databases.kind}; logs in {run_dir / 'logs'})")
        await stack.start()
        seconds["start"] = time.monotonic() - began
        chaos = ChaosStack(stack)
        plans = plan_trips(config.plan, datetime.now(UTC).date(), Catalogs.load())
        clients = TripClients(
            stack.instance_addresses("api"),
            concurrency=config.concurrency,
            rate=config.rate,
            patience=config.patience,
            seed=config.seed,
        )
        log = FaultLog(scaled=scaled)
        injector = FaultInjector(
            chaos,
            [fault_events(config.plan, lane) for lane in FAULT_LANES],
            max_faults=config.max_faults,
            log=log,
            say=say,
        )
        say(f"chaos: booking {len(plans)} trips under faults (seed {config.seed})")
        loading = time.monotonic()
        faults = asyncio.create_task(injector.run())
        progress = asyncio.create_task(_progress(clients, log, len(plans), say))
        try:
            await clients.run(plans)
        finally:
            injector.stop()
            progress.cancel()
            await faults
            await clients.close()
        seconds["trips under faults"] = time.monotonic() - loading

        settling = time.monotonic()
        say("chaos: faults stopped; waiting for every trip to settle")
        observed = observe.Observed()
        apis = [grpc.aio.insecure_channel(address) for address in stack.instance_addresses("api")]
        try:
            stubs = [trip_pb2_grpc.TripServiceStub(api) for api in apis]
            observed.trips = await observe.settle(stubs, [p.request_id for p in plans], config.settle_timeout)
        finally:
            for api in apis:
                await api.close(None)
        seconds["settle"] = time.monotonic() - settling

        checking = time.monotonic()
        client = await wait_temporal_ready(stack.temporal_address, options.namespace, 60)
        observed.runs = await observe.workflow_runs(client)
        observed.replays = await replay_failures(client, observed.runs)
        for service in SERVICES:
            await observe.read_tables(service, databases.targets[service], observed)
        await _read_search(stack, observed)
        if scaled:
            observed.work = await observe_work(
                client,
                run_dir / "logs",
                {s: [name for name, _ in stack.instances[s]] for s in SERVICES},
                instance_names("worker", config.workers),
                [name for name, _ in stack.instances["api"]],
                [p.trip_id for p in plans],
                chaos.pid_names,
            )
        invariants = check_all(plans, clients.answers, observed)
        seconds["check"] = time.monotonic() - checking
    finally:
        if faults is not None and not faults.done():  # interrupted while injecting: stop first
            faults.cancel()
            await asyncio.wait({faults})
        with contextlib.suppress(Exception):
            await stack.stop()
        if chaos is not None:
            await chaos.stop_strays()
        with contextlib.suppress(Exception):
            await databases.drop()
    seconds["total"] = time.monotonic() - began
    report: dict[str, Any] = {
        "run": {
            "seed": config.seed,
            "trips": config.trips,
            "concurrency": config.concurrency,
            "rate": config.rate,
            "database": databases.kind,
            "step_budget_seconds": config.step_budget,
            "fault_interval_seconds": config.fault_interval,
            "fault_kinds": list(config.kinds),
            "started_utc": stamp,
            "state_dir": str(run_dir),
            **(
                {"scale": {"replicas": config.replicas, "workers": config.workers, "apis": config.apis}}
                if scaled
                else {}
            ),
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "faults": {
            "total": len(log.events),
            "by_kind": log.by_kind(),
            "sigkills": chaos.kills,
            "sigterms": chaos.terms,
            "restarts": chaos.restarts,
            "unexpected_exits": chaos.unexpected_exits,
            "events": log.events,
        },
        "answers": answer_counts(clients.answers),
        "trips": trip_counts(observed),
        "rows": {"total": len(observed.rows), "booked": sum(r.status == "BOOKED" for r in observed.rows)},
        "slots": len(observe.slots_touched(observed)),
        "invariants": [inv.to_json() for inv in invariants],
        "held": all(inv.held for inv in invariants),
        "report_path": str(report_path),
        "final_answers": [a.to_json() for a in clients.answers if a.code != "OK"],
        **({"work": observed.work} if scaled else {}),
    }
    write(report_path, report)
    print(render(report, invariants), flush=True)
    return (0 if report["held"] else 1), report, invariants


async def _read_search(stack: Stack, observed: observe.Observed) -> None:
    """Search on every replica of each service: the first into `observed.search`, the others beside it."""
    slots = observe.slots_touched(observed)
    replicas = list(zip(*(stack.instances[s] for s in SERVICES), strict=False))
    for number, row in enumerate(replicas):
        channels = {
            s: grpc.aio.insecure_channel(address) for s, (_, address) in zip(SERVICES, row, strict=True)
        }
        into: dict[observe.Slot, int | None] | None = None if number == 0 else {}
        try:
            await observe.read_search(channels, slots, observed, into)
        finally:
            for channel in channels.values():
                await channel.close(None)
        if into is not None:
            observed.replica_search.update({name: into for name, _ in row})


async def _interruptible(config: ChaosConfig) -> int:
    """run_chaos, cancelled by SIGINT or SIGTERM so that it still stops the stack and drops its database
    (a shell starts background jobs with SIGINT ignored, hence the explicit handlers)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    code, _, _ = await run_chaos(config)
    return code


def main(argv: list[str] | None = None) -> None:
    config = parse_config(argv, description=__doc__)
    try:
        code = asyncio.run(_interruptible(config))
    except asyncio.CancelledError:
        print("chaos: interrupted; the stack is stopped", file=sys.stderr, flush=True)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()

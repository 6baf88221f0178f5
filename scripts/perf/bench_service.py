"""Benchmark one booking service process: BookFlight latency and throughput on SQLite and PostgreSQL.

Not a test: it prints figures. Each store gets a fresh database and one `python -m flight_svc`
process; a closed-loop client sends bookings with fresh keys spread over the catalog's flights
and the next year's dates (so nothing sells out) at each concurrency level.

    .venv/bin/python -m scripts.perf.bench_service                 # both stores, c=1 and c=50
    .venv/bin/python -m scripts.perf.bench_service --stores sqlite --requests 5000 --profile
    .venv/bin/python -m scripts.perf.bench_service --stores sqlite --channel-per-call   # the cost of no reuse
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc
import psutil
import uvloop
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc

from scripts.bench_measure import LoadResult, mean, run_load
from scripts.stack_health import free_port, wait_grpc_serving

ROOT = Path(__file__).resolve().parents[2]
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Level:
    """One concurrency level on one store, and the CPU the service process used for it."""

    store: str
    load: LoadResult
    service_cpu_s: float = 0.0

    def row(self) -> str:
        load = self.load
        return (
            f"{self.store:<9} c={load.concurrency:<3} n={load.count:<6} err={len(load.errors):<4} "
            f"p50={load.percentile(50):6.2f} ms  p99={load.percentile(99):6.2f} ms  "
            f"mean={mean(load.latencies_ms):6.2f} ms  {load.throughput:6.0f} bookings/s  "
            f"service CPU {self.service_cpu_s * 1e6 / max(1, load.count):4.0f} us/booking"
        )


def start_service(
    db: str, address: str, log: Path, profile: Path | None, log_calls: bool
) -> subprocess.Popen[bytes]:
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
        command += [str(ROOT / "flight_svc" / "__main__.py")]
    else:
        command += ["-m", "flight_svc"]
    command += ["--address", address, "--db", db, "--log-calls", "1" if log_calls else "0"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")])}
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def request_stream(flights: list[str]) -> itertools.cycle[tuple[str, str]]:
    """Every 7th (flight, date) of the next year, round and round: bookings spread, nothing sells out."""
    today = datetime.now(UTC).date()
    pairs = [(f, (today + timedelta(days=d)).isoformat()) for d in range(1, 360) for f in flights]
    return itertools.cycle(pairs[::7])


async def run_level(
    stub: flight_pb2_grpc.FlightServiceAsyncStub,
    concurrency: int,
    total: int,
    pairs: itertools.cycle[tuple[str, str]],
    channel_per_call_to: str | None = None,
) -> LoadResult:
    """`total` BookFlight calls with fresh keys from `concurrency` closed loops.

    With `channel_per_call_to` (an address) every call opens and closes its own channel and
    connection, as a client that does not reuse channels would (a local subchannel pool keeps gRPC
    from quietly sharing one connection between channels to the same address).
    """
    run_id = uuid.uuid4().hex[:8]

    async def book(index: int) -> None:
        flight, date = next(pairs)
        request = flight_pb2.BookFlightRequest(
            idempotency_key=f"bench-{run_id}-{index}",
            customer_id="bench",
            flight_number=flight,
            date=date,
            seats=1,
        )
        if channel_per_call_to is None:
            await stub.BookFlight(request, timeout=30)
            return
        options = [("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.insecure_channel(channel_per_call_to, options=options) as channel:
            await flight_pb2_grpc.FlightServiceStub(channel).BookFlight(request, timeout=30)

    return await run_load(book, concurrency=concurrency, count=total)


async def bench_store(store: str, args: argparse.Namespace, workdir: Path) -> list[Level]:
    dsn = ""
    if store == "postgres":
        dsn_name = f"bench_service_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{dsn_name}"')
        await admin.close()
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + dsn_name
        db = dsn
    else:
        db = str(workdir / f"flight-{uuid.uuid4().hex[:6]}.db")
    address = f"127.0.0.1:{free_port()}"
    profile = workdir / f"profile-{store}.pstats" if args.profile else None
    process = start_service(db, address, workdir / f"flight-{store}.log", profile, args.log_calls)
    levels: list[Level] = []
    try:
        await wait_grpc_serving(address, timeout=30)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = flight_pb2_grpc.FlightServiceStub(channel)
            flights = [
                f.flight_number for f in (await stub.SearchFlights(flight_pb2.SearchFlightsRequest())).flights
            ]
            pairs = request_stream(flights)
            await run_level(stub, 10, min(500, args.requests), pairs)  # warm-up: caches, pools
            meter = psutil.Process(process.pid)
            for concurrency in args.concurrency:
                cpu_before = sum(meter.cpu_times()[:2])
                fresh_channels = address if args.channel_per_call else None
                load = await run_level(stub, concurrency, args.requests, pairs, fresh_channels)
                level = Level(store, load, sum(meter.cpu_times()[:2]) - cpu_before)
                print(level.row(), flush=True)
                levels.append(level)
    finally:
        process.send_signal(signal.SIGINT if profile is not None else signal.SIGTERM)
        process.wait(30)
        if dsn:
            admin = await asyncpg.connect(ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')
            await admin.close()
    if profile is not None:
        import pstats

        print(f"--- cProfile of the service ({store}), top 25 by own (total) time ---")
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(25)
    return levels


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--concurrency", default="1,50", help="comma-separated concurrency levels")
    parser.add_argument("--requests", type=int, default=3000, help="bookings per level")
    parser.add_argument("--log-calls", type=int, default=1, help="service call log on (1) or off (0)")
    parser.add_argument(
        "--channel-per-call", action="store_true", help="open a new channel for every call (no reuse)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="run the service under cProfile and print the top"
    )
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    log_state = "on" if args.log_calls else "off"
    print(f"BookFlight, one flight_svc process, {args.requests} bookings per level, call log {log_state}")
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        for store in args.stores.split(","):
            await bench_store(store.strip(), args, Path(tmp))


if __name__ == "__main__":
    uvloop.run(main())

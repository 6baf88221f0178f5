"""Where the Temporal dev server spends its CPU while it books trips: a perf profile, by component.

Samples the running dev server with `perf record -g` while BookTrip runs at a fixed concurrency
through the API (or while you drive it yourself, with `--load 0`), names every sampled frame from
the binary's own Go function table (scripts.perf.go_symbols; the shipped CLI has no symbol table), and
prints the share of CPU, and the milliseconds per trip, of each part of the server: visibility
writes, history's handlers, matching, frontend, SQLite, SQL parsing, Go's GC and the kernel.

    make up                                            # in one terminal
    python -m scripts.perf.profile_temporal --load 50       # in another: 10 s of BookTrip at c=50

Needs `perf` (Debian: linux-perf). docs/performance.md quotes its output.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from scripts.bench import running_stack_pids
from scripts.bench_calls import Clients, booktrip_call
from scripts.bench_measure import LoadResult, run_load
from scripts.bench_workload import Workload
from scripts.perf.go_symbols import GoSymbols
from scripts.stack_ports import running_addresses

# (label, a substring of a frame's function name): a sample counts for a component when any frame
# of its stack matches. Components overlap (SQLite runs inside the history handlers), so the shares
# do not add up to 100%.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("history: update-with-start (create the workflow)", "history/api/multioperation"),
    ("history: workflow task started", "history/api/recordworkflowtaskstarted"),
    ("history: workflow task completed", "history/api/respondworkflowtaskcompleted"),
    ("history: transfer queue (task to matching)", "transferQueueActiveTaskExecutor"),
    ("history: timer queue", "timerQueueActiveTaskExecutor"),
    ("history: visibility queue (visibility rows)", "visibilityQueueTaskExecutor"),
    ("matching", "server/service/matching"),
    ("frontend", "server/service/frontend"),
    ("SQLite, any caller (modernc, Go)", "modernc.org/sqlite"),
    ("  of which parsing SQL text (sqlite3Prepare)", "_sqlite3Prepare"),
    ("Go garbage collector", "runtime.gcBgMarkWorker"),
)
KERNEL = "[kernel]"


@dataclass
class Profile:
    """Sampled stacks of one process, innermost frame first, as function names."""

    stacks: list[list[str]]
    frequency_hz: int

    def cpu_seconds(self, samples: int) -> float:
        return samples / self.frequency_hz

    def share(self, pattern: str) -> int:
        return sum(1 for stack in self.stacks if any(pattern in frame for frame in stack))

    def kernel_self(self) -> int:
        return sum(1 for stack in self.stacks if stack and stack[0] == KERNEL)

    def top_self(self, count: int) -> list[tuple[str, int]]:
        return collections.Counter(stack[0] for stack in self.stacks if stack).most_common(count)


def parse_perf_script(lines: Iterator[str], binary: Path, symbols: GoSymbols) -> list[list[str]]:
    """Stacks from `perf script -F ip,dso` output: blank-line separated blocks of `ADDR (DSO)`."""
    stacks: list[list[str]] = []
    current: list[str] = []
    binary_names = {str(binary), str(binary.resolve())}
    for raw in lines:
        line = raw.strip()
        if not line:
            if current:
                stacks.append(current)
                current = []
            continue
        address, _, dso = line.partition(" ")
        dso = dso.strip("()")
        try:
            offset = int(address, 16)
        except ValueError:
            continue
        if dso in binary_names:
            current.append(symbols.name_at_offset(offset))
        elif "kernel" in dso:
            current.append(KERNEL)
        else:
            current.append(f"[{Path(dso).name}]")
    if current:
        stacks.append(current)
    return stacks


async def record(pid: int, seconds: float, frequency: int, out: Path) -> None:
    argv = ["perf", "record", "-q", "-F", str(frequency), "-g", "-p", str(pid), "-o", str(out)]
    process = await asyncio.create_subprocess_exec(
        *argv, "--", "sleep", str(seconds), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"perf record failed: {stderr.decode().strip()}")


async def profile_under_load(args: argparse.Namespace, pid: int, data: Path) -> LoadResult | None:
    """Record for args.seconds while BookTrip runs at args.load (none if 0)."""
    if args.load <= 0:
        await record(pid, args.seconds, args.frequency, data)
        return None
    clients = Clients(running_addresses())
    workload = Workload.from_catalogs(uuid.uuid4().hex[:8])
    call = booktrip_call(clients, workload)
    try:
        # Warm up, then record while a load of known length runs: CPU per trip = samples / trips.
        await run_load(call, concurrency=args.load, count=2 * args.load)
        load = asyncio.create_task(
            run_load(call, concurrency=args.load, duration_s=args.seconds, first_index=1_000_000)
        )
        await record(pid, args.seconds, args.frequency, data)
        return await load
    finally:
        await clients.close()


def report(profile: Profile, trips: int | None, top: int) -> str:
    total = len(profile.stacks)
    lines = [f"{total} samples at {profile.frequency_hz} Hz = {profile.cpu_seconds(total):.2f} s of CPU"]
    if trips:
        lines[0] += f" for {trips} trips: {profile.cpu_seconds(total) * 1000 / trips:.2f} ms per trip"
    lines.append("")
    lines.append(f"{'component (inclusive)':<52} {'share':>6} {'ms/trip':>8}")
    rows = [(label, profile.share(pattern)) for label, pattern in COMPONENTS]
    rows.append(("kernel (system calls, scheduling, network)", profile.kernel_self()))
    for label, samples in rows:
        per_trip = f"{profile.cpu_seconds(samples) * 1000 / trips:8.2f}" if trips else f"{'-':>8}"
        lines.append(f"{label:<52} {samples / total:6.1%} {per_trip}")
    lines.append("")
    lines.append("hottest functions (self):")
    for name, samples in profile.top_self(top):
        lines.append(f"  {samples / total:6.1%}  {name[:110]}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.perf.profile_temporal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pid", type=int, help="the dev server's pid (default: the running stack's)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to record")
    parser.add_argument("--load", type=int, default=50, help="BookTrip concurrency meanwhile; 0: no load")
    parser.add_argument("--frequency", type=int, default=999, help="samples per second")
    parser.add_argument("--top", type=int, default=20, help="how many hottest functions to list")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("perf") is None:
        raise SystemExit("perf not found: install it (Debian: apt-get install linux-perf)")
    pid = args.pid or running_stack_pids().get("temporal")
    if pid is None:
        raise SystemExit("no Temporal dev server found: start the stack (make up) or pass --pid")
    # The server's own executable (make up's is TEMPORAL_BIN; --pid may name another build).
    binary = Path(psutil.Process(pid).exe())
    symbols = GoSymbols.from_binary(binary)
    with tempfile.TemporaryDirectory(prefix="profile-temporal-") as tmp:
        data = Path(tmp) / "perf.data"
        result = asyncio.run(profile_under_load(args, pid, data))
        script = subprocess.run(
            ["perf", "script", "-i", str(data), "-F", "ip,dso"],
            capture_output=True,
            text=True,
            check=True,
        )
    stacks = parse_perf_script(iter(script.stdout.splitlines()), binary, symbols)
    profile = Profile(stacks, args.frequency)
    if not profile.stacks:
        raise SystemExit("perf recorded no samples")
    trips = result.count if result else None
    if result and result.errors:
        print(f"{len(result.errors)} BookTrip calls failed; first: {result.errors[0]}", file=sys.stderr)
    print(report(profile, trips, args.top))


if __name__ == "__main__":
    main()

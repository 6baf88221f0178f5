"""Measuring tools the benchmarks share: a closed-loop load runner and per-process CPU/RSS meters.

Closed loop: `concurrency` clients each send the next request as soon as the
previous one answered, so throughput and latency come from the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import psutil


@dataclass
class LoadResult:
    """What one load level produced: latencies in ms of successful calls, errors, wall time."""

    concurrency: int
    latencies_ms: list[float]
    errors: list[str]
    elapsed_s: float

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, pct: float) -> float:
        return percentile(self.latencies_ms, pct)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


async def run_load(
    call: Callable[[int], Awaitable[None]],
    *,
    concurrency: int,
    count: int | None = None,
    duration_s: float | None = None,
    first_index: int = 0,
    on_done: Callable[[], None] | None = None,
) -> LoadResult:
    """Call `call(i)` with fresh indexes from `concurrency` loops until `count` calls or `duration_s`."""
    if count is None and duration_s is None:
        raise ValueError("give count or duration_s")
    indexes: Iterator[int] = itertools.count(first_index)
    issued = 0
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    stop_at = start + duration_s if duration_s is not None else float("inf")

    async def loop() -> None:
        nonlocal issued
        while time.perf_counter() < stop_at and (count is None or issued < count):
            issued += 1
            index = next(indexes)
            began = time.perf_counter()
            try:
                await call(index)
            except Exception as exc:  # counted and reported, never hidden
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                latencies.append((time.perf_counter() - began) * 1000)
            if on_done is not None:
                on_done()

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return LoadResult(concurrency, latencies, errors, time.perf_counter() - start)


@dataclass
class ProcessUsage:
    """CPU seconds used and peak RSS seen for one process over a measured window."""

    cpu_s: float
    peak_rss_mb: float


def machine_busy_s() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


@dataclass
class ProcessMeter:
    """Samples CPU time (psutil cpu_times deltas) and RSS of named processes over a window."""

    pids: dict[str, int]
    interval_s: float = 0.2
    _procs: dict[str, psutil.Process] = field(default_factory=dict)
    _cpu0: dict[str, float] = field(default_factory=dict)
    _peak: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _machine0: float = 0.0
    _wall0: float = 0.0
    machine_busy_share: float = 0.0  # all cores, whole machine, over the window (1.0 = every core busy)

    def __post_init__(self) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in self.pids.items()}

    def _cpu(self, proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)

    def _sample_rss(self) -> None:
        for name, proc in self._procs.items():
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss / 2**20
                self._peak[name] = max(self._peak.get(name, 0.0), rss)

    async def _sampler(self) -> None:
        while True:
            self._sample_rss()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._cpu0 = {name: self._cpu(proc) for name, proc in self._procs.items()}
        self._machine0 = machine_busy_s()
        self._wall0 = time.perf_counter()
        self._peak = {}
        self._task = asyncio.create_task(self._sampler())

    async def stop(self) -> dict[str, ProcessUsage]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample_rss()
        self.machine_busy_share = (machine_busy_s() - self._machine0) / (
            (time.perf_counter() - self._wall0) * (psutil.cpu_count() or 1)
        )
        return {
            name: ProcessUsage(self._cpu(proc) - self._cpu0[name], self._peak.get(name, 0.0))
            for name, proc in self._procs.items()
        }

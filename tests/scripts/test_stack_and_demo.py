"""`make up`, `make demo` and `make bench` for real: the stack starts healthy, the demo books and
compensates, the benchmark measures it, and SIGINT stops every child and exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.support.make_up import free_ports_env, read_until, start_make_up
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.temporal


async def _bench_a_few_trips(env: dict[str, str], out: Path) -> None:
    """`make bench` against the running stack, shrunk to a few trips: both modes, every figure written."""
    bench = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.bench", "--use-running", "--levels", "1", "--count", "4",
        "--warmup", "1", "--out", str(out),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(bench.communicate(), 120)
    assert bench.returncode == 0, output.decode(errors="replace")[-3000:]
    results = json.loads((out / "results.json").read_text())
    levels = {(level["mode"], level["concurrency"]): level for level in results["levels"]}
    assert set(levels) == {("direct", 1), ("booktrip", 1)}
    for level in levels.values():
        assert level["trips"] == 4 and level["errors"] == 0, level
        # Every process of the stack is metered; four trips are too few to show a service's CPU
        # (the kernel counts it in 10 ms ticks), so only the Temporal server's is asserted non-zero.
        assert level["p50_ms"] > 0
        assert {"temporal", "worker", "api", "flight", "hotel", "cab"} <= set(level["cpu_ms_per_trip"])
    assert levels[("booktrip", 1)]["cpu_ms_per_trip"]["temporal"] > 0
    assert (out / "results.png").stat().st_size > 0


async def test_stack_serves_the_demo_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    temporal_port, ui_port = free_port(), free_port()
    env = free_ports_env(os.environ, temporal_port)
    env.pop("STACK_TEMPORAL", None)  # this test starts its own dev server
    stack = await start_make_up(tmp_path / "state", ui_port, env)
    assert stack.stdout is not None
    seen: list[str] = []
    try:
        await read_until(stack.stdout, "stack: ready", 90, seen)
        await read_until(stack.stdout, "Temporal Web UI", 5, seen)
        assert seen[-1].rstrip().endswith(f":{ui_port}"), seen[-1]
        demo = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scripts.demo", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(demo.communicate(), 60)
        text = out.decode()
        assert demo.returncode == 0, text
        assert "using the stack at" in text
        assert ": CONFIRMED" in text and ": FAILED" in text and "SOLD_OUT" in text
        assert "flight COMPENSATED" in text and "flight CANCELLED (holds nothing)" in text
        await _bench_a_few_trips(env, tmp_path / "bench")
        stack.send_signal(signal.SIGINT)
        await read_until(stack.stdout, "stack: stopped", 60, seen)
        assert await asyncio.wait_for(stack.wait(), 10) == 0
        assert "temporal 0" in seen[-1] and "api 0" in seen[-1]
    finally:
        if stack.returncode is None:
            stack.kill()
            await stack.wait()

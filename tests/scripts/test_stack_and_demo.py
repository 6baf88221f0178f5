"""`make up` and `make demo` for real: the stack starts healthy, the demo books and compensates,
and SIGINT stops every child and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.temporal


async def _read_until(stream: asyncio.StreamReader, marker: str, timeout: float, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {marker!r} in output:\n" + "".join(seen[-40:]))
        line = await asyncio.wait_for(stream.readline(), remaining)
        if not line:
            raise AssertionError("output ended before " + repr(marker) + ":\n" + "".join(seen[-40:]))
        seen.append(line.decode(errors="replace"))
        if marker in seen[-1]:
            return


async def test_stack_serves_the_demo_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    temporal_port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ORCHESTRATOR_ADDR": f"localhost:{free_port()}",
        "FLIGHT_SVC_ADDR": f"localhost:{free_port()}",
        "HOTEL_SVC_ADDR": f"localhost:{free_port()}",
        "CAB_SVC_ADDR": f"localhost:{free_port()}",
    }
    for name in ("FLIGHT", "HOTEL", "CAB"):
        env.pop(f"{name}_DB", None)
    env.pop("STACK_TEMPORAL", None)  # this test starts its own dev server
    stack = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.stack", "--state-dir", str(tmp_path / "state"),
        "--ui-port", str(ui_port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert stack.stdout is not None
    seen: list[str] = []
    try:
        await _read_until(stack.stdout, "stack: ready", 90, seen)
        await _read_until(stack.stdout, "Temporal Web UI", 5, seen)
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
        stack.send_signal(signal.SIGINT)
        await _read_until(stack.stdout, "stack: stopped", 60, seen)
        assert await asyncio.wait_for(stack.wait(), 10) == 0
        assert "temporal 0" in seen[-1] and "api 0" in seen[-1]
    finally:
        if stack.returncode is None:
            stack.kill()
            await stack.wait()

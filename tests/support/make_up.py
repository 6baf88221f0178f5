"""`make up` (`python -m scripts.stack`) as a child process on free ports, for the tests that drive it
the way a user does: its environment, its start, and reading its output until a line appears."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tests.support.processes import ROOT, free_port


def free_ports_env(base: Mapping[str, str], temporal_port: int) -> dict[str, str]:
    """`base` with every address on a free port and the services on their default SQLite files."""
    env = {
        **base,
        "PYTHONUNBUFFERED": "1",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ORCHESTRATOR_ADDR": f"localhost:{free_port()}",
        "FLIGHT_SVC_ADDR": f"localhost:{free_port()}",
        "HOTEL_SVC_ADDR": f"localhost:{free_port()}",
        "CAB_SVC_ADDR": f"localhost:{free_port()}",
    }
    for name in ("FLIGHT", "HOTEL", "CAB"):
        env.pop(f"{name}_DB", None)
    return env


async def start_make_up(state_dir: Path, ui_port: int, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.stack", "--state-dir", str(state_dir), "--ui-port", str(ui_port),
        cwd=ROOT, env=dict(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def read_until(stream: asyncio.StreamReader, marker: str, timeout: float, seen: list[str]) -> None:
    """Read lines into `seen` until one holds `marker`; fail with the last lines on timeout or EOF."""
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

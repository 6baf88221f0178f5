"""One child process of the stack, its output prefixed with its name.

The stack runs several programs that all log to stdout; prefixing every line
with the child's name keeps one terminal readable. Children get their own
session so that a Ctrl-C in the terminal reaches only the stack, which then
stops them in a chosen order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

# Width of the name column; the longest child name ("temporal") fits.
_NAME_WIDTH = 8


class ChildProcess:
    """A program the stack started; stops with SIGTERM, then SIGKILL after a grace period."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        echo: TextIO | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.echo = echo
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Spawn the program; its output goes to `echo` (prefixed), `log_path`, or both."""
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        if self.echo is None and self.log_path is not None:
            # Straight to the file: no pumping cost in this process (matters for benchmarks).
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as log:
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    cwd=self.cwd,
                    env=env,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            return
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        self._pump = asyncio.create_task(self._copy_output(), name=f"pump-{self.name}")

    async def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        prefix = f"{self.name:<{_NAME_WIDTH}} | "
        log = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("a", encoding="utf-8")
        try:
            async for raw in self.process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                if self.echo is not None:
                    self.echo.write(prefix + line + "\n")
                    self.echo.flush()
                if log is not None:
                    log.write(line + "\n")
                    log.flush()
        finally:
            if log is not None:
                log.close()

    async def wait(self) -> int:
        assert self.process is not None
        code = await self.process.wait()
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await self._pump
        return code

    async def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM and wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                print(f"{self.name}: no exit {grace:.0f}s after SIGTERM, killing it", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
        return await self.wait()

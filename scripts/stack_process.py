"""One child process of the suite: the one class that `make up`, the demo, the benchmark and the
tests start programs with.

The stack runs several programs that all log to stdout; prefixing every line with the child's
name keeps one terminal readable (`echo`), and `log_path` keeps each child's output in its own
file. Children get their own session so that a Ctrl-C in the terminal reaches only the stack,
which then stops them in a chosen order. Tests also crash them (`kill`), pause them (`signal`),
start them again (`start` after an exit) and read their logs (`log_tail`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TextIO

ROOT = Path(__file__).resolve().parent.parent
# Width of the name column; the longest child name ("temporal") fits.
_NAME_WIDTH = 8
Popen = subprocess.Popen[bytes]


class ChildProcess:
    """A program the suite started; stops with SIGTERM, then SIGKILL after a grace period."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path = ROOT,
        echo: TextIO | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env  # on top of this process's environment
        self.cwd = cwd
        self.echo = echo
        self.log_path = log_path
        self.process: Popen | None = None
        self._pump: asyncio.Task[None] | None = None

    @classmethod
    def python(
        cls,
        name: str,
        module: str,
        args: Sequence[str] = (),
        *,
        env: dict[str, str],
        log_path: Path | None = None,
        echo: TextIO | None = None,
    ) -> ChildProcess:
        """`python -m <module> <args>` with this interpreter, from the repository root."""
        return cls(name, [sys.executable, "-m", module, *args], env=env, echo=echo, log_path=log_path)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def start(self) -> ChildProcess:
        """Spawn the program (again, once it has exited); its output goes to `echo` (prefixed),
        `log_path`, or both. With `echo`, call it from a running event loop (it pumps the output)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self._pump = None
        if self.echo is None:
            # Straight to the file (or nowhere): no pumping cost in this process (matters for benchmarks).
            if self.log_path is None:
                self.process = self._spawn(env, subprocess.DEVNULL)
                return self
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as log:
                self.process = self._spawn(env, log)
            return self
        self.process = self._spawn(env, subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._pump = asyncio.get_running_loop().create_task(self._copy_output(), name=f"pump-{self.name}")
        return self

    def _spawn(self, env: dict[str, str], stdout: int | IO[bytes], stdin: int | None = None) -> Popen:
        return subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), self.process.stdout
        )
        prefix = f"{self.name:<{_NAME_WIDTH}} | "
        log = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("a", encoding="utf-8")
        try:
            async for raw in reader:
                line = raw.decode(errors="replace").rstrip("\n")
                if self.echo is not None:
                    self.echo.write(prefix + line + "\n")
                    self.echo.flush()
                if log is not None:
                    log.write(line + "\n")
                    log.flush()
        finally:
            transport.close()
            if log is not None:
                log.close()

    def signal(self, sig: int) -> None:
        """Send `sig` if it is still running (SIGSTOP and SIGCONT pause it and let it go on)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up; returns once it is gone."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()

    async def wait(self) -> int:
        """Its exit code, once it has exited (and its echoed output is all copied)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        if self.process.poll() is None:
            await _exited(self.process)
        code = self.process.wait()
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await self._pump
        return code

    async def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM and wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(_exited(self.process), grace)
            except TimeoutError:
                print(f"{self.name}: no exit {grace:.0f}s after SIGTERM, killing it", file=sys.stderr)
                self.kill()
        return await self.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of its log file ("" without one)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def _exited(process: Popen) -> None:
    """Returns once `process` has exited, without reaping it: its pidfd turns readable then (Linux)."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        await asyncio.to_thread(process.wait)  # no pidfd: a thread waits (and reaps)
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)

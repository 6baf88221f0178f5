"""Start the suite's real processes (`python -m flight_svc`, ...) for a test.

Each process gets a free port, its own log file and a health-checked start, so
a test talks to exactly what a user would run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from booking_runtime.tls import TlsSettings
from scripts.stack_health import free_port as free_port  # re-exported for the tests
from scripts.stack_health import wait_grpc_serving

ROOT = Path(__file__).resolve().parents[2]


async def wait_serving(
    address: str, service: str = "", timeout: float = 30.0, tls_settings: TlsSettings | None = None
) -> None:
    """Wait until the gRPC health service at `address` reports SERVING (over TLS with `tls_settings`)."""
    await wait_grpc_serving(address, timeout=timeout, service=service, tls_settings=tls_settings)


@dataclass
class ManagedProcess:
    """One child process of the suite, started with `python -m <module>`."""

    module: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited by `timeout`."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

"""A Temporal dev server as a child process on its own database file, so a test can SIGKILL it and
start it again on the same state (WorkflowEnvironment.start_local cannot be restarted)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from scripts.stack_temporal import TemporalDevServer, wait_temporal_ready
from tests.support.processes import free_port


@dataclass
class TemporalProcess:
    workdir: Path
    server: TemporalDevServer = field(init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.server = TemporalDevServer(
            port=free_port(), ui_port=None, db_filename=self.workdir / "temporal.db", metrics_port=free_port()
        )

    @property
    def address(self) -> str:
        return self.server.address

    def launch(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with (self.workdir / "temporal.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.server.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    async def start(self) -> Client:
        """Start the server (again, on the same database file) and connect once it is ready."""
        self.launch()
        return await wait_temporal_ready(self.address)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-call, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

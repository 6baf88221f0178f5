"""A Temporal dev server as a child process on its own database file, so a test can SIGKILL it and
start it again on the same state (WorkflowEnvironment.start_local cannot be restarted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from scripts.stack_process import ChildProcess
from scripts.stack_temporal import TemporalDevServer, wait_temporal_ready
from tests.support.processes import free_port


@dataclass
class TemporalProcess:
    workdir: Path
    server: TemporalDevServer = field(init=False)
    child: ChildProcess = field(init=False)

    def __post_init__(self) -> None:
        self.server = TemporalDevServer(
            port=free_port(), ui_port=None, db_filename=self.workdir / "temporal.db", metrics_port=free_port()
        )
        self.child = ChildProcess(
            "temporal", self.server.argv(), env={}, log_path=self.workdir / "temporal.log"
        )

    @property
    def address(self) -> str:
        return self.server.address

    def launch(self) -> None:
        self.child.start()

    async def start(self) -> Client:
        """Start the server (again, on the same database file) and connect once it is ready."""
        self.launch()
        return await wait_temporal_ready(self.address)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-call, as in a crash."""
        self.child.kill()

    async def stop(self) -> None:
        await self.child.stop()

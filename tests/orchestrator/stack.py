"""The whole suite as real processes for one test module: Temporal dev server, the three services on
SQLite, the orchestrator worker and the TripService API, each on a free port with its own log.

The processes are started by scripts.stack.Stack, the same code as `make up`, the demo and the
benchmark; this module adds what tests need on top: a Temporal of the test's own, clients, restarts.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from tripbooking.flight.v1 import flight_pb2_grpc
from tripbooking.trip.v1 import trip_pb2_grpc

from booking_runtime import tls
from booking_runtime.tls import TlsSettings
from orchestrator.activities import CHANNEL_OPTIONS
from scripts.stack import Stack as SuiteStack
from scripts.stack import StackOptions, StackPorts
from scripts.stack_process import ChildProcess
from tests.support.processes import ROOT, free_port, wait_serving

SERVICES = ("flight", "hotel", "cab")
# The Temporal binaries the temporalio package installs next to this interpreter (make install).
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
TEMPORAL_TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
# Recorded TripWorkflow histories: written by record_histories.py, replayed by test_replay.py.
HISTORIES = ROOT / "tests" / "orchestrator" / "histories"


@dataclass
class Stack:
    """The suite for one test module: scripts.stack.Stack (what `make up` runs) on free ports, on a
    Temporal the test started, with a task queue of its own; plus the clients and restarts tests use."""

    client: Client
    temporal_address: str
    workdir: Path
    task_queue: str = field(default_factory=lambda: f"trip-booking-{uuid.uuid4().hex[:8]}")
    addresses: dict[str, str] = field(default_factory=dict)
    # One channel per process name, opened on first use and reused (it reconnects after a restart).
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    # Service -> database target; SQLite files under workdir unless given (e.g. PostgreSQL DSNs).
    databases: dict[str, str] = field(default_factory=dict)
    # More environment for every process, e.g. fault injection (HOTEL_FAULT_RATE, ...).
    extra_env: dict[str, str] = field(default_factory=dict)
    # How this test dials the servers (none: plaintext, whatever the test process's environment says).
    client_tls: TlsSettings = field(default_factory=TlsSettings)
    # More environment for one process ("flight", ..., "worker", "trip"), e.g. its TRIP_METRICS_ADDR.
    process_env: dict[str, dict[str, str]] = field(default_factory=dict)
    suite: SuiteStack | None = None

    def __post_init__(self) -> None:
        for name in (*SERVICES, "trip"):
            self.addresses[name] = f"127.0.0.1:{free_port()}"

    def _suite(self) -> SuiteStack:
        """The stack as scripts.stack builds it, from this test's settings as they are now."""
        if self.suite is None:
            port = {name: int(address.rsplit(":", 1)[1]) for name, address in self.addresses.items()}
            ports = StackPorts(0, None, port["trip"], port["flight"], port["hotel"], port["cab"], None)
            options = StackOptions(
                ports=ports,
                host="127.0.0.1",
                state_dir=self.workdir,
                log_dir=self.workdir / "logs",
                temporal="external",
                temporal_address=self.temporal_address,
                namespace=self.client.namespace,
                task_queue=self.task_queue,
                # The same dicts: a test that changes them changes what a restarted process gets.
                env=self.extra_env,
                databases=self.databases,
                process_env=self.process_env,
                probe_tls=self.client_tls,
            )
            self.suite = SuiteStack(options)
        # Tests name the API "trip"; the stack names it "api".
        self.suite.options.process_env = {
            **self.process_env, **({"api": self.process_env["trip"]} if "trip" in self.process_env else {})
        }  # fmt: skip
        return self.suite

    @property
    def processes(self) -> dict[str, ChildProcess]:
        suite = self.suite
        return {("trip" if c.name == "api" else c.name): c for c in (suite.children if suite else [])}

    def env(self) -> dict[str, str]:
        return self._suite().child_env()

    async def start_service(self, name: str) -> None:
        """Start a stopped (or killed) service ("trip": the API) again and wait until it serves."""
        self._suite().start_again("api" if name == "trip" else name)
        await wait_serving(self.addresses[name], tls_settings=self.client_tls)

    def start_worker(self) -> ChildProcess:
        """Start the stopped (or killed) worker again, with the environment as it is now."""
        return self._suite().start_again("worker")

    async def start_all(self) -> None:
        await self._suite().start()

    def channel(self, name: str) -> grpc.aio.Channel:
        if name not in self.channels:
            # The worker's reconnect settings: a restarted service is reachable again within 2 s.
            self.channels[name] = tls.aio_channel(
                self.addresses[name], options=CHANNEL_OPTIONS, settings=self.client_tls
            )
        return self.channels[name]

    def trips(self) -> trip_pb2_grpc.TripServiceAsyncStub:
        return trip_pb2_grpc.TripServiceStub(self.channel("trip"))

    def flights(self) -> flight_pb2_grpc.FlightServiceAsyncStub:
        return flight_pb2_grpc.FlightServiceStub(self.channel("flight"))

    async def stop(self) -> None:
        for channel in self.channels.values():
            await channel.close(None)
        self.channels.clear()
        if self.suite is not None:
            await self.suite.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log_tail(15)}" for name, p in self.processes.items())


@asynccontextmanager
async def running_stack(
    workdir: Path,
    *,
    databases: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
    client_tls: TlsSettings | None = None,
    process_env: dict[str, dict[str, str]] | None = None,
) -> AsyncIterator[Stack]:
    """A real `temporal server start-dev` on a free port and every process of the suite, stopped after."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        port=free_port(),
        dev_server_log_level="error",
    )
    stack = Stack(env.client, env.client.service_client.config.target_host, workdir)
    stack.databases = dict(databases or {})
    stack.extra_env = dict(extra_env or {})
    stack.client_tls = client_tls or TlsSettings()
    stack.process_env = dict(process_env or {})
    try:
        await stack.start_all()
        yield stack
    finally:
        await stack.stop()
        await env.shutdown()

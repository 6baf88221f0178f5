"""The whole suite as real processes for one test module: Temporal dev server, the three services on
SQLite, the orchestrator worker and the TripService API, each on a free port with its own log.
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
    client: Client
    temporal_address: str
    workdir: Path
    task_queue: str = field(default_factory=lambda: f"trip-booking-{uuid.uuid4().hex[:8]}")
    addresses: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ChildProcess] = field(default_factory=dict)
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

    def __post_init__(self) -> None:
        for name in (*SERVICES, "trip"):
            self.addresses[name] = f"127.0.0.1:{free_port()}"

    def env(self) -> dict[str, str]:
        return {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": self.client.namespace,
            "TRIP_TASK_QUEUE": self.task_queue,
            "FLIGHT_SVC_ADDR": self.addresses["flight"],
            "HOTEL_SVC_ADDR": self.addresses["hotel"],
            "CAB_SVC_ADDR": self.addresses["cab"],
            "ORCHESTRATOR_ADDR": self.addresses["trip"],
            **{
                f"{name.upper()}_DB": self.databases.get(name, str(self.workdir / f"{name}.db"))
                for name in SERVICES
            },
            **self.extra_env,
        }

    def _process(self, name: str, module: str) -> ChildProcess:
        log = self.workdir / "logs" / f"{name}.log"
        env = {**self.env(), **self.process_env.get(name, {})}
        process = ChildProcess.python(name, module, env=env, log_path=log).start()
        self.processes[name] = process
        return process

    async def start_service(self, name: str) -> None:
        self._process(name, f"{name}_svc")
        await wait_serving(self.addresses[name], tls_settings=self.client_tls)

    def start_worker(self) -> ChildProcess:
        return self._process("worker", "orchestrator.worker")

    async def start_all(self) -> None:
        for name in SERVICES:
            self._process(name, f"{name}_svc")
        self.start_worker()
        self._process("trip", "orchestrator.server")
        for name in (*SERVICES, "trip"):
            await wait_serving(self.addresses[name], tls_settings=self.client_tls)

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
        for process in self.processes.values():
            await process.stop()

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

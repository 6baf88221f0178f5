"""`python -m booking_runtime.probe`: what it checks for each command, and its exit code against a
real gRPC health service (SERVING, NOT_SERVING, nothing listening)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from booking_runtime.probe import dial_address, probe_argv
from tests.support.processes import ROOT, free_port


def test_each_command_gets_its_own_check() -> None:
    env = {"HOTEL_SVC_ADDR": "0.0.0.0:6000"}
    assert probe_argv(["python", "-m", "flight_svc"], {}) == ["grpc", "localhost:50051"]
    assert probe_argv(["/opt/bin/python", "-m", "hotel_svc", "--grace-seconds", "5"], env) == [
        "grpc",
        "localhost:6000",
    ]
    assert probe_argv(["python", "-m", "orchestrator.server"], {}) == ["grpc", "localhost:50050"]
    assert probe_argv(["python", "-m", "orchestrator.worker"], {}) == ["worker"]
    assert probe_argv(["python", "-m", "orchestrator.codec_server"], {}) == ["tcp", "localhost:8081"]
    assert probe_argv(["sh", "-c", "true"], {}) is None


def test_wildcard_listen_addresses_are_dialled_on_localhost() -> None:
    assert dial_address("0.0.0.0:1") == dial_address("[::]:1") == "localhost:1"
    assert dial_address("10.1.2.3:1") == "10.1.2.3:1"


@pytest.fixture
async def health() -> AsyncIterator[tuple[HealthServicer, int]]:
    server = grpc.aio.server()
    servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(None)


async def probe(address: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "booking_runtime.probe", address, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await asyncio.wait_for(process.wait(), 60)


async def test_the_exit_code_follows_the_health_status(health: tuple[HealthServicer, int]) -> None:
    servicer, port = health
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert await probe(f"127.0.0.1:{port}") == 0
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert await probe(f"127.0.0.1:{port}") == 1
    assert await probe(f"127.0.0.1:{free_port()}") == 1

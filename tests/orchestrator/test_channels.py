"""orchestrator.channels: the target a list of replicas becomes, and round-robin with failover on a
real grpc.aio channel to real (in-process) gRPC servers.
"""

from __future__ import annotations

import collections
import json
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from orchestrator.channels import CHANNEL_OPTIONS, channel_target, open_channel, static_target
from tests.support.waiting import wait_for


def test_one_address_is_the_plain_channel_as_before() -> None:
    assert channel_target("localhost:50051") == ("localhost:50051", CHANNEL_OPTIONS)


def test_a_list_becomes_a_static_round_robin_target() -> None:
    target, options = channel_target("127.0.0.1:5001, 127.0.0.2:5002")
    assert target == "ipv4:127.0.0.1:5001,127.0.0.2:5002"
    config = json.loads(dict(options)["grpc.service_config"])  # type: ignore[arg-type]
    assert config == {"loadBalancingConfig": [{"round_robin": {}}]}


def test_host_names_are_resolved_to_one_family() -> None:
    # localhost resolves to 127.0.0.1 (and maybe ::1): the IPv4 list wins, once per address.
    assert static_target(["localhost:1", "127.0.0.1:2"]) == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert static_target(["[::1]:1", "[::1]:2"]) == "ipv6:[::1]:1,[::1]:2"


def test_a_dns_target_is_passed_to_grpc_with_round_robin() -> None:
    target, options = channel_target("dns:///flight-headless:50051")
    assert target == "dns:///flight-headless:50051"
    assert "grpc.service_config" in dict(options)


@pytest.mark.parametrize(
    "bad", ["", " , ", "no-port,localhost:1", "localhost:x,localhost:1", "127.0.0.1:1,[::1]:2"]
)
def test_bad_lists_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        channel_target(bad)


def test_an_unknown_host_is_named() -> None:
    with pytest.raises(ValueError, match=r"no-such-host\.invalid"):
        static_target(["localhost:1", "no-such-host.invalid:2"])


class CountingHealth(HealthServicer):
    """Health that counts the checks each replica answered."""

    def __init__(self, replica: int, counts: collections.Counter[int]) -> None:
        super().__init__()
        self.replica = replica
        self.counts = counts

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        self.counts[self.replica] += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[list[grpc.aio.Server], list[int], collections.Counter[int]]]:
    counts: collections.Counter[int] = collections.Counter()
    servers, ports = [], []
    for replica in range(3):
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(CountingHealth(replica, counts), server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
    yield servers, ports, counts
    for server in servers:
        await server.stop(None)


async def test_calls_spread_over_replicas_and_skip_a_stopped_one(
    replicas: tuple[list[grpc.aio.Server], list[int], collections.Counter[int]],
) -> None:
    servers, ports, counts = replicas
    channel = open_channel(",".join(f"localhost:{port}" for port in ports))
    try:
        stub = health_pb2_grpc.HealthStub(channel)

        async def every_replica_answered() -> bool:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            return set(counts) == {0, 1, 2}

        await wait_for(every_replica_answered, timeout=10, interval=0, what="calls on every replica")

        await servers[1].stop(None)
        counts.clear()
        for _ in range(30):  # none fails: the stopped replica is skipped
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert set(counts) == {0, 2}, counts
    finally:
        await channel.close(None)

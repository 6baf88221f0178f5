"""`python -m booking_runtime.probe [ADDR]`: a gRPC health check for container health probes.

The image ships no grpc_health_probe binary, so this is it: `grpc.health.v1.Health/Check` at ADDR
(a listen address such as `0.0.0.0:50051` is dialled on localhost), exit 0 when SERVING, 1 otherwise.
Without ADDR it checks the process the container runs (PID 1): a booking service or the API on the
address its environment gives it, the worker through `python -m orchestrator.worker_probe`, the
codec server (HTTP) by a TCP connect to TRIP_CODEC_ADDR. So one Dockerfile HEALTHCHECK fits every
command of the image.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# The command's module -> the variable holding its listen address and the default (DESIGN.md).
SERVERS = {
    "flight_svc": ("FLIGHT_SVC_ADDR", "localhost:50051"),
    "hotel_svc": ("HOTEL_SVC_ADDR", "localhost:50052"),
    "cab_svc": ("CAB_SVC_ADDR", "localhost:50053"),
    "orchestrator.server": ("ORCHESTRATOR_ADDR", "localhost:50050"),
}
WORKER_MODULE = "orchestrator.worker"
HTTP_SERVERS = {"orchestrator.codec_server": ("TRIP_CODEC_ADDR", "localhost:8081")}


def dial_address(listen: str) -> str:
    """Where to reach a server listening on `listen`: a wildcard host becomes localhost."""
    host, _, port = listen.rpartition(":")
    if host in {"", "0.0.0.0", "[::]", "::", "*"}:
        return f"localhost:{port}"
    return listen


def module_of(argv: Sequence[str]) -> str | None:
    """`python -m flight_svc ...` -> "flight_svc"."""
    for flag, value in itertools.pairwise(argv):
        if flag == "-m":
            return value
    return None


def probe_argv(command: Sequence[str], env: Mapping[str, str]) -> list[str] | None:
    """What to check for a process running `command`: ["grpc"|"tcp", ADDR], ["worker"], or None."""
    module = module_of(command)
    if module == WORKER_MODULE:
        return ["worker"]
    for kind, servers in (("grpc", SERVERS), ("tcp", HTTP_SERVERS)):
        if module in servers:
            variable, default = servers[module]
            return [kind, dial_address(env.get(variable) or default)]
    return None


async def check(address: str, service: str = "", timeout: float = 3.0) -> bool:
    """Whether `address` answers SERVING for `service` within `timeout` seconds."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.aio.AioRpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


async def accepts(address: str, timeout: float = 3.0) -> bool:
    """Whether something accepts a TCP connection at `address` (a server that speaks no gRPC)."""
    host, _, port = address.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m booking_runtime.probe", description=__doc__)
    parser.add_argument(
        "address", nargs="?", help="host:port; default: the address of the container's process"
    )
    parser.add_argument(
        "--service", default="", help="service name to check (default: the server as a whole)"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds")
    args = parser.parse_args(argv)
    if args.address:
        plan = ["grpc", dial_address(args.address)]
    else:
        command = Path("/proc/1/cmdline").read_bytes().decode().split("\0")
        found = probe_argv(command, os.environ)
        if found is None:
            sys.exit(f"probe: no health check known for {' '.join(command)!r}; give an address")
        plan = found
    if plan[0] == "worker":
        os.execv(sys.executable, [sys.executable, "-m", "orchestrator.worker_probe"])
    if plan[0] == "tcp":
        healthy = asyncio.run(accepts(plan[1], args.timeout))
    else:
        healthy = asyncio.run(check(plan[1], args.service, args.timeout))
    print(f"{plan[1]}: {'SERVING' if healthy else 'not serving'}")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()

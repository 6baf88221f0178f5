"""The worker's health endpoint: `grpc.health.v1.Health` on TRIP_HEALTH_ADDR, for probes such as Kubernetes'.

The worker serves no gRPC API, so nothing else tells a probe whether it works. Its status (for the
empty service name and for `trip-worker`) is SERVING only while the Temporal worker runs, which is
from the moment its pollers start (after the namespace check) until it begins to shut down or fails
with a fatal error; NOT_SERVING before and after. `grpc_health_probe -addr=...` or a Kubernetes
`grpc:` probe reads it; off unless the address is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from booking_runtime.server import HEALTH_SERVICE

SERVICE = "trip-worker"
CHECK_SECONDS = 0.5
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class WorkerHealth:
    """A small gRPC server whose status follows `is_running()` (the Temporal Worker's property)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.port = 0
        self._health = HealthServicer()
        self._server = grpc.aio.server()
        self._follow: asyncio.Task[None] | None = None
        self._serving: bool | None = None

    async def start(self) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection([HEALTH_SERVICE, reflection.SERVICE_NAME], self._server)
        self.port = self._server.add_insecure_port(self.address)
        if self.port == 0:
            raise OSError(f"worker health: cannot listen on {self.address}")
        await self.set_serving(False)
        await self._server.start()

    async def set_serving(self, serving: bool) -> None:
        if serving == self._serving:
            return
        self._serving = serving
        for service in ("", SERVICE):
            await self._health.set(service, SERVING if serving else NOT_SERVING)

    def follow(self, is_running: Callable[[], bool]) -> None:
        """Keep the status in step with `is_running()` until `stop`."""

        async def loop() -> None:
            while True:
                await self.set_serving(is_running())
                await asyncio.sleep(CHECK_SECONDS)

        self._follow = asyncio.ensure_future(loop())

    async def draining(self) -> None:
        """NOT_SERVING from now on: the worker stops polling."""
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
            self._follow = None
        await self.set_serving(False)

    async def stop(self) -> None:
        """NOT_SERVING, then close the endpoint."""
        await self.draining()
        await self._server.stop(0.5)

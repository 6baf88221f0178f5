"""Start a grpc.aio server the same way for every process: health, reflection, call log, drain.

`run_server` serves until SIGTERM/SIGINT, then drains: health turns NOT_SERVING at once, new
business calls get UNAVAILABLE (retryable, so a client moves on to another replica), in-flight
calls get up to `grace_seconds` to finish, and only then does the process exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import uvloop
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from booking_runtime import tls, tracing
from booking_runtime.call_log import CallInterceptor, CallTracker, TripIdOf, call_lines, configure_logging
from booking_runtime.grpc_metrics import CallMetrics

log = logging.getLogger("booking_runtime.server")

# How long interrupted calls (the grace period is over) get to send their UNAVAILABLE.
INTERRUPT_SECONDS = 1.0
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


@dataclass(frozen=True)
class ServerSpec:
    """Everything that differs between the suite's servers."""

    name: str  # "flight", "trip": used in logs and as the error domain "<name>.tripbooking"
    address: str  # "host:port" to listen on
    service_names: Sequence[str]  # full proto service names: health + reflection
    register: Callable[[grpc.aio.Server], None]  # adds the servicers
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    grace_seconds: float = 10.0
    on_start: Callable[[], Awaitable[None]] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None
    log_calls: bool = True
    metrics: CallMetrics | None = None  # grpc_server_* metrics; None: not recorded
    trip_id_of: TripIdOf | None = None  # the trip a request is about, for its log line

    @property
    def domain(self) -> str:
        return f"{self.name}.tripbooking"


def log_event(service: str, event: str, **fields: Any) -> None:
    """One JSON line about a process's life (serving, draining, stopped, ...), as every process logs it."""
    log.info(event, extra={"service": service, "event": event, **fields})


class RunningServer:
    """A started server and the knobs to drain it; `run_server` is the usual way in."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.tracker = CallTracker()
        self.health = HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[
                *tracing.server_interceptors(),
                CallInterceptor(
                    spec.name,
                    spec.domain,
                    self.tracker,
                    log_calls=spec.log_calls,
                    metrics=spec.metrics,
                    trip_id_of=spec.trip_id_of,
                ),
                *spec.interceptors,
            ],
            options=[("grpc.so_reuseport", 0)],
        )
        self.port = 0

    async def start(self) -> None:
        spec = self.spec
        if spec.on_start is not None:
            await spec.on_start()
        spec.register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*spec.service_names, HEALTH_SERVICE, reflection.SERVICE_NAME], self.server
        )
        self.port = tls.add_port(self.server, spec.address)  # TLS when TRIP_TLS_CERT is set
        if self.port == 0:
            raise OSError(f"{spec.name}: cannot listen on {spec.address}")
        await self.server.start()
        for service in ("", *spec.service_names):
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        secure = tls.TlsSettings.from_env().server_enabled
        log_event(spec.name, "serving", address=spec.address, port=self.port, tls=secure)

    async def drain_and_stop(self) -> None:
        """NOT_SERVING, refuse new business calls, end open streams, let in-flight calls finish
        within grace (then end them with UNAVAILABLE), stop."""
        spec = self.spec
        started = time.monotonic()
        self.tracker.start_draining()
        await self.health.enter_graceful_shutdown()
        log_event(spec.name, "draining", in_flight=self.tracker.in_flight, grace_seconds=spec.grace_seconds)
        try:
            await asyncio.wait_for(self.tracker.wait_idle(), timeout=spec.grace_seconds)
        except TimeoutError:
            log_event(spec.name, "grace_expired", interrupted=self.tracker.interrupt())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.tracker.wait_idle(), timeout=INTERRUPT_SECONDS)
        # Replies still being written get the rest of the grace period (at least a second).
        remaining = max(1.0, spec.grace_seconds - (time.monotonic() - started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.tracker.wait_all_sent(), timeout=remaining)
        call_lines.flush()
        if spec.on_stop is not None:
            await spec.on_stop()
        log_event(spec.name, "stopped", seconds=round(time.monotonic() - started, 3))

    def close_connections(self) -> NoReturn:
        """End the process without grpc's own shutdown: the last step of a drain.

        grpc's `server.stop` cancels (CANCELLED, which no client retries) every call that reached
        the server but that no handler has taken yet, and calls keep arriving until clients see
        its GOAWAY. Every call a handler took has been answered by now, so the process exits and
        the kernel closes its connections instead: a call still on its way in ends UNAVAILABLE
        (connection reset), which a client retries. Exit handlers (atexit) run first.
        """
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


async def run_server(spec: ServerSpec) -> None:
    """Serve until SIGTERM or SIGINT, then drain gracefully and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = RunningServer(spec)
    await running.start()
    try:
        await stop.wait()
    finally:
        await running.drain_and_stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    running.close_connections()


def run(main: Callable[[], Awaitable[None]], telemetry_name: str | None = None) -> None:
    """Event-loop entry for every `__main__`: JSON logs on stdout, tracing if OTEL_* asks, uvloop.

    `telemetry_name` is the process's OpenTelemetry `service.name` (`flight-svc`, `trip-api`, ...).
    """

    async def entry() -> None:
        await main()

    configure_logging()
    if telemetry_name is not None:
        tracing.start_tracing(telemetry_name)
    try:
        uvloop.run(entry())
    finally:
        tracing.stop_tracing()

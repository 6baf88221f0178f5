"""`grpc_server_handled_total` and `grpc_server_handling_seconds` for every gRPC server of the suite.

The call interceptor (booking_runtime.call_log) records each business call here, once, at the point it
already measures the call for its log line: no extra interceptor layer. Two backends give the same
names and labels:

- `PrometheusCallMetrics` (prometheus-client) in the booking services, served on `<NAME>_METRICS_ADDR`;
- `TemporalCallMetrics` (the Temporal SDK's metric meter) in the API, whose Temporal runtime already
  serves Prometheus text on `TRIP_METRICS_ADDR`: one endpoint per process, not two.

Both keep one bound instrument per (method, code) and per method, so a call costs a dict lookup and two
increments (measured in docs/performance.md). Nothing here is imported or created unless an address is set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import grpc

HANDLED = "grpc_server_handled_total"
HANDLING_SECONDS = "grpc_server_handling_seconds"
HANDLED_HELP = "Business RPCs completed on the server, by service, method and status code."
HANDLING_HELP = "Time the server took to handle a business RPC (a stream: until it ended), in seconds."
# Calls here take a millisecond or so; WatchTrip streams for minutes (counted when it ends).
BUCKETS: Sequence[float] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    120.0,
    600.0,
)


class CallMetrics(Protocol):
    def record(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        """One finished call of `method` ("/pkg.Service/Method") with status `code`."""


def split_method(method: str) -> tuple[str, str]:
    """`/pkg.v1.FlightService/BookFlight` -> (`pkg.v1.FlightService`, `BookFlight`)."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service, name


class _CachedCallMetrics:
    """Bound instruments made on first use; `_count(labels)` and `_timer(labels)` are the backend's."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, grpc.StatusCode], Callable[[], None]] = {}
        self._timers: dict[str, Callable[[float], None]] = {}

    def record(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        counter = self._counters.get((method, code))
        if counter is None:
            service, name = split_method(method)
            counter = self._counters[(method, code)] = self._count(service, name, code.name)
        counter()
        timer = self._timers.get(method)
        if timer is None:
            timer = self._timers[method] = self._timer(*split_method(method))
        timer(seconds)

    def _count(self, service: str, method: str, code: str) -> Callable[[], None]:
        raise NotImplementedError

    def _timer(self, service: str, method: str) -> Callable[[float], None]:
        raise NotImplementedError


class PrometheusCallMetrics(_CachedCallMetrics):
    """prometheus-client instruments in `registry` (the default one when None)."""

    def __init__(self, registry: Any = None) -> None:
        super().__init__()
        from prometheus_client import REGISTRY, Counter, Histogram

        registry = REGISTRY if registry is None else registry
        # prometheus-client adds `_total` to a counter's name itself.
        self._handled = Counter(
            HANDLED.removesuffix("_total"),
            HANDLED_HELP,
            ["grpc_service", "grpc_method", "grpc_code"],
            registry=registry,
        )
        self._seconds = Histogram(
            HANDLING_SECONDS,
            HANDLING_HELP,
            ["grpc_service", "grpc_method"],
            buckets=BUCKETS,
            registry=registry,
        )

    def _count(self, service: str, method: str, code: str) -> Callable[[], None]:
        return self._handled.labels(service, method, code).inc

    def _timer(self, service: str, method: str) -> Callable[[float], None]:
        return self._seconds.labels(service, method).observe


class TemporalCallMetrics(_CachedCallMetrics):
    """The same instruments on a Temporal runtime's meter (exported by its Prometheus endpoint as named).

    The runtime's PrometheusConfig must carry `BUCKETS` for HANDLING_SECONDS
    (orchestrator.temporal_client does), else the SDK's default millisecond buckets apply.
    """

    def __init__(self, meter: Any) -> None:
        super().__init__()
        self._handled = meter.create_counter(HANDLED, HANDLED_HELP)
        self._seconds = meter.create_histogram_float(HANDLING_SECONDS, HANDLING_HELP, "s")

    def _count(self, service: str, method: str, code: str) -> Callable[[], None]:
        bound = self._handled.with_additional_attributes(
            {"grpc_service": service, "grpc_method": method, "grpc_code": code}
        )
        return lambda: bound.add(1)

    def _timer(self, service: str, method: str) -> Callable[[float], None]:
        bound = self._seconds.with_additional_attributes({"grpc_service": service, "grpc_method": method})
        return bound.record


def parse_listen_address(address: str) -> tuple[str, int]:
    """`host:port`, `:port` or `[::1]:port` -> (host, port); an empty host listens on every interface."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"metrics address {address!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve_prometheus(address: str) -> tuple[PrometheusCallMetrics, Callable[[], None]]:
    """Call metrics in the default registry and its `/metrics` on `address`; returns them and a closer.

    prometheus-client serves from a thread of its own; the default registry also carries the
    `process_*` (CPU, memory, open files) and `python_gc_*` collectors.
    """
    from prometheus_client import start_http_server

    host, port = parse_listen_address(address)
    metrics = PrometheusCallMetrics()
    server, thread = start_http_server(port, addr=host)

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)

    return metrics, close

"""OpenTelemetry tracing for every process, switched on only by the standard `OTEL_*` variables.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, `start_tracing` installs a
tracer provider whose `service.name` is the process's (`flight-svc`, `trip-api`, ...; `OTEL_SERVICE_NAME`
overrides it), batching spans to the OTLP/gRPC exporter; everything else (headers, TLS, timeouts,
sampler, batch sizes, resource attributes) is the SDK's reading of its own variables. Servers then get
OpenTelemetry's grpc.aio server interceptor and clients its channel interceptors, so one trip's calls
join one trace through the W3C `traceparent` metadata.

Unset, nothing is imported, no provider or interceptor exists, and the hot path is untouched:
`server_interceptors()` and `client_interceptors()` return empty lists and `active()` is None.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Health probes and reflection would be most of the spans and say nothing about a trip.
UNTRACED_SERVICE_PREFIXES = ("grpc.health.", "grpc.reflection.")


def tracing_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when the standard variables ask for OTLP trace export."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


@dataclass
class Tracing:
    """The process's tracer provider, and the gRPC interceptors that use it."""

    provider: Any  # opentelemetry.sdk.trace.TracerProvider
    service_name: str

    def server_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        return [aio_server_interceptor(tracer_provider=self.provider, filter_=_traced_call)]

    def client_interceptors(self) -> list[grpc.aio.ClientInterceptor]:
        from opentelemetry.instrumentation.grpc import aio_client_interceptors

        interceptors: list[grpc.aio.ClientInterceptor] = aio_client_interceptors(
            tracer_provider=self.provider
        )
        return interceptors

    def shutdown(self) -> None:
        """Export what is still buffered (bounded by OTEL_BSP_EXPORT_TIMEOUT), then stop."""
        self.provider.shutdown()


def _traced_call(details: Any) -> bool:
    method = details.method
    if isinstance(method, bytes):
        method = method.decode()
    return not str(method).lstrip("/").startswith(UNTRACED_SERVICE_PREFIXES)


_active: Tracing | None = None


def start_tracing(service_name: str, env: Mapping[str, str] | None = None) -> Tracing | None:
    """Install the global tracer provider for `service_name` if the environment asks for it."""
    global _active
    env = os.environ if env is None else env
    if not tracing_configured(env):
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = env.get("OTEL_SERVICE_NAME", "").strip() or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _active = Tracing(provider, name)
    return _active


def active() -> Tracing | None:
    """The running process's tracing, or None when it is off."""
    return _active


def stop_tracing() -> None:
    global _active
    if _active is not None:
        _active.shutdown()
        _active = None


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return _active.server_interceptors() if _active is not None else []


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    return _active.client_interceptors() if _active is not None else []


def mark_current_span(code: grpc.StatusCode) -> None:
    """Put a handler's final status on the server span (rich-status aborts bypass the instrumentation)."""
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code != grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name))


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, for log lines; None outside a span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None

"""What the worker and the API add for traces, metrics and logs; each piece off until configured.

- `process_runtime`: their Temporal runtime. Core's own log lines are forwarded to Python logging (so
  they come out as JSON lines like the rest), and with `TRIP_METRICS_ADDR` it serves Prometheus text:
  the SDK's metrics, the workflow's `trip_*` counters (orchestrator.trip_metrics) and, in the API, the
  gRPC server metrics, all on one `/metrics`.
- `temporal_interceptors`: Temporal's OpenTelemetry TracingInterceptor when tracing is on
  (booking_runtime.tracing), so the API's BookTrip span is the parent of the workflow's and activities'.
- `api_call_metrics`, `trip_id_of_trip_request`: the API server's metrics and the trip on its log lines.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio.client import Client, Interceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from booking_runtime import tracing
from booking_runtime.grpc_metrics import BUCKETS, HANDLING_SECONDS, CallMetrics, TemporalCallMetrics
from orchestrator.models import trip_id_for

CORE_LOGGER = "temporalio.core"
MAX_LOGGED_ID = 140  # ids are at most 128 characters; a longer one is refused, and logged cut short


def process_runtime(metrics_addr: str) -> Runtime:
    """The Temporal runtime of the worker or the API (see the module doc)."""
    metrics = (
        PrometheusConfig(
            bind_address=metrics_addr, histogram_bucket_overrides={HANDLING_SECONDS: list(BUCKETS)}
        )
        if metrics_addr
        else None
    )
    core_logs = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger(CORE_LOGGER), prepend_target_on_message=False
        ),
    )
    return Runtime(telemetry=TelemetryConfig(metrics=metrics, logging=core_logs))


class TripIdFromWorkflow(logging.Filter):
    """`trip_id` on every SDK line about a trip's workflow or activity (the workflow id is the trip id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trip_id"):
            context = getattr(record, "temporal_activity", None) or getattr(record, "temporal_workflow", None)
            workflow_id = context.get("workflow_id") if isinstance(context, dict) else None
            if isinstance(workflow_id, str) and workflow_id.startswith("trip-"):
                record.trip_id = workflow_id
        return True


def configure_sdk_logging() -> None:
    """The SDK's workflow and activity lines: context as JSON fields (not appended text), with trip_id."""
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    for handler in logging.getLogger().handlers:
        handler.addFilter(TripIdFromWorkflow())


def temporal_interceptors() -> list[Interceptor]:
    """Client (and so worker) interceptors: tracing when on, else none."""
    if tracing.active() is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def api_call_metrics(client: Client, metrics_addr: str) -> CallMetrics | None:
    """The API server's grpc_server_* metrics on the client's runtime (its /metrics), if it has one."""
    if not metrics_addr:
        return None
    runtime = client.service_client.config.runtime or Runtime.default()
    return TemporalCallMetrics(runtime.metric_meter)


def trip_id_of_trip_request(request: Any) -> str | None:
    """The trip a TripService request is about: its `trip_id`, or for BookTrip its request_id's."""
    trip_id = getattr(request, "trip_id", "")
    if not trip_id:
        request_id = getattr(request, "request_id", "")
        trip_id = trip_id_for(request_id) if request_id else ""
    return trip_id[:MAX_LOGGED_ID] or None

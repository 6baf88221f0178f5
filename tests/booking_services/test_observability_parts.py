"""The observability pieces one at a time: off unless configured, names as DESIGN.md says, JSON lines."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import grpc
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from booking_runtime import tracing
from booking_runtime.grpc_metrics import PrometheusCallMetrics, parse_listen_address, split_method
from booking_runtime.json_logging import JsonFormatter
from booking_runtime.trip_ids import trip_id_from_key
from tests.support.processes import ROOT


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
    ],
)
def test_tracing_is_on_only_with_an_otlp_endpoint(env: dict[str, str], on: bool) -> None:
    assert tracing.tracing_configured(env) is on


def test_with_nothing_configured_no_telemetry_code_is_even_imported() -> None:
    """The off path: no tracer provider, no interceptors, no metrics server, no OpenTelemetry import."""
    probe = (
        "import sys, asyncio\n"
        "from booking_runtime import tracing\n"
        "from booking_runtime.server import RunningServer, ServerSpec\n"
        "import orchestrator.worker, orchestrator.server, flight_svc.__main__\n"
        "assert tracing.start_tracing('flight-svc') is None and tracing.server_interceptors() == []\n"
        "assert tracing.client_interceptors() == []\n"
        "async def main():\n"
        "    RunningServer(ServerSpec('t', '127.0.0.1:0', [], lambda s: None))\n"
        "asyncio.run(main())\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'prometheus_client')))\n"
        "print(loaded)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_trip_id_is_read_from_the_orchestrators_idempotency_keys() -> None:
    assert trip_id_from_key("trip-r1:flight") == "trip-r1"
    assert trip_id_from_key("trip-a:b:c:hotel") == "trip-a:b:c"  # request ids may hold colons
    assert trip_id_from_key("k-123") is None
    assert trip_id_from_key("trip-:cab") is None
    assert trip_id_from_key("trip-r1") is None


def test_call_metrics_have_the_names_and_labels_of_the_design() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusCallMetrics(registry)
    for code in (grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION):
        metrics.record("/tripbooking.flight.v1.FlightService/BookFlight", code, 0.002)
    labels = {"grpc_service": "tripbooking.flight.v1.FlightService", "grpc_method": "BookFlight"}
    value = registry.get_sample_value
    assert value("grpc_server_handled_total", {**labels, "grpc_code": "OK"}) == 2
    assert value("grpc_server_handled_total", {**labels, "grpc_code": "FAILED_PRECONDITION"}) == 1
    assert value("grpc_server_handling_seconds_bucket", {**labels, "le": "0.0025"}) == 3
    assert "# TYPE grpc_server_handling_seconds histogram" in generate_latest(registry).decode()
    assert split_method("/a.b.C/D") == ("a.b.C", "D")
    assert parse_listen_address(":9464") == ("0.0.0.0", 9464)
    assert parse_listen_address("[::1]:9464") == ("::1", 9464)


def test_a_log_record_is_one_json_line_with_level_extra_fields_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.error("it %s", "broke", exc_info=True, extra={"trip_id": "trip-r1"})
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["msg"] == "it broke" and entry["trip_id"] == "trip-r1"
    assert "ValueError: boom" in entry["exc"]


def test_a_crashing_process_logs_its_traceback_as_json() -> None:
    probe = (
        "from booking_runtime.server import run\n"
        "async def main():\n"
        "    raise RuntimeError('no database')\n"
        "run(main)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.returncode != 0
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and lines[-1]["level"] == "critical" and "RuntimeError: no database" in lines[-1]["exc"]
    assert result.stderr.strip() == ""

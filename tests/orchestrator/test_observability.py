"""Traces, metrics, logs and the worker's health through the real processes, with observability on.

An OTLP receiver runs in this test process (scripts/otlp_receiver.py, the collector's TraceService);
every process of the stack exports to it through the standard OTEL_* variables and serves /metrics
on its own *_METRICS_ADDR. One confirmed trip and one that fails on a sold-out cab (so that both
cross all five processes, and the failed one undoes its hotel and its flight) are booked once for
the whole module; each test reads what they left behind.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tripbooking.cab.v1 import cab_pb2, cab_pb2_grpc
from tripbooking.trip.v1 import trip_pb2

from scripts import trace_timeline
from scripts.otlp_receiver import OtlpReceiver, Span
from scripts.stack_process import ChildProcess
from tests.orchestrator.stack import Stack, running_stack
from tests.orchestrator.trips import CONFIRMED, TripRequests, step
from tests.support.processes import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

SERVER = 2  # OTLP SpanKind
BOOKINGS = (("flight-svc", "BookFlight"), ("hotel-svc", "ReserveHotel"), ("cab-svc", "ScheduleCab"))
CANCELS = (("flight-svc", "CancelFlightBooking"), ("hotel-svc", "CancelHotelReservation"))
SERVICE_NAMES = {"trip-api", "trip-worker", "flight-svc", "hotel-svc", "cab-svc"}
SOLD_OUT_CITY, CABS_IN_CITY = "Dublin", 20  # cab_svc/catalog.json
book_request = TripRequests(first_day=120, prefix="obs")


@dataclass
class Observed:
    stack: Stack
    receiver: OtlpReceiver
    metrics: dict[str, str]  # process -> host:port of its /metrics
    worker_health: str
    confirmed: trip_pb2.BookTripResponse
    failed: trip_pb2.BookTripResponse


async def fill_cabs(stack: Stack, pickup_time: str) -> None:
    """Book every cab of SOLD_OUT_CITY in that hour, straight at the cab service."""
    cabs = cab_pb2_grpc.CabServiceStub(stack.channel("cab"))
    for number in range(CABS_IN_CITY):
        await cabs.ScheduleCab(
            cab_pb2.ScheduleCabRequest(
                idempotency_key=f"fill-{pickup_time}-{number}",
                customer_id="filler",
                city=SOLD_OUT_CITY,
                pickup_time=pickup_time,
                pickup_address="a",
                dropoff_address="b",
            ),
            timeout=15,
        )


@pytest.fixture(scope="module")
async def observed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    workdir = tmp_path_factory.mktemp("observed")
    receiver = await OtlpReceiver(path=workdir / "traces.jsonl").start()
    metrics = {name: f"127.0.0.1:{free_port()}" for name in ("flight", "hotel", "cab", "worker", "trip")}
    worker_health = f"127.0.0.1:{free_port()}"
    common = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s, not the default 5 s
        **{f"{name.upper()}_METRICS_ADDR": metrics[name] for name in ("flight", "hotel", "cab")},
    }
    per_process = {
        "worker": {"TRIP_METRICS_ADDR": metrics["worker"], "TRIP_HEALTH_ADDR": worker_health},
        "trip": {"TRIP_METRICS_ADDR": metrics["trip"]},
    }
    try:
        async with running_stack(workdir, extra_env=common, process_env=per_process) as stack:
            confirmed = await stack.trips().BookTrip(book_request(), timeout=60)
            assert confirmed.trip.status == CONFIRMED, stack.logs()
            request = book_request()
            request.cab.city = SOLD_OUT_CITY
            await fill_cabs(stack, request.cab.pickup_time)
            failed = await stack.trips().BookTrip(request, timeout=60)
            assert failed.trip.status == trip_pb2.TRIP_STATUS_FAILED, stack.logs()
            yield Observed(stack, receiver, metrics, worker_health, confirmed, failed)
    finally:
        await receiver.stop()


def trace_of(
    receiver: OtlpReceiver, trip_id: str, handled: tuple[tuple[str, str], ...] = ()
) -> list[Span] | None:
    """Every span of the one trace holding the trip's workflow spans, once all five processes and the
    server spans `handled` ((service.name, method), ...) are in; each process exports on its own.
    """
    traces = {s.trace_id for s in receiver.spans if s.attributes.get("temporalWorkflowID") == trip_id}
    assert len(traces) <= 1, f"{trip_id} is spread over {len(traces)} traces"
    if not traces:
        return None
    spans = [s for s in receiver.spans if s.trace_id in traces]
    if {s.service for s in spans} != SERVICE_NAMES:
        return None
    servers = {(s.service, s.name.rpartition("/")[2]) for s in spans if s.kind == SERVER}
    return spans if set(handled) <= servers else None


def server_span(spans: list[Span], service: str, method: str) -> Span:
    matches = [s for s in spans if s.service == service and s.name.endswith(f"/{method}") and s.kind == 2]
    assert len(matches) >= 1, f"no {method} server span in {service}: {sorted({s.name for s in spans})}"
    return matches[0]


async def test_a_confirmed_trip_is_one_trace_across_all_five_processes(observed: Observed) -> None:
    trip_id = observed.confirmed.trip_id
    spans = await wait_for(lambda: _now(trace_of(observed.receiver, trip_id, BOOKINGS)), what="the trace")
    api = server_span(spans, "trip-api", "BookTrip")
    assert api.parent_id == ""  # the trace starts at the API's call
    for service, method in BOOKINGS:
        assert not server_span(spans, service, method).error
    assert any(s.service == "trip-worker" and s.name == "RunActivity:book_flight" for s in spans)


async def test_a_sold_out_trip_is_one_trace_with_every_compensation(observed: Observed) -> None:
    trip_id = observed.failed.trip_id
    assert step(observed.failed.trip, "flight").status == trip_pb2.STEP_STATUS_COMPENSATED
    assert "SOLD_OUT" in step(observed.failed.trip, "cab").last_error

    handled = (*BOOKINGS, *CANCELS)
    spans = await wait_for(lambda: _now(trace_of(observed.receiver, trip_id, handled)), what="the trace")
    refused = server_span(spans, "cab-svc", "ScheduleCab")
    assert (
        refused.error
        and refused.attributes.get("rpc.grpc.status_code") == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    )
    assert not server_span(spans, "flight-svc", "CancelFlightBooking").error
    confirmed_trace = {s.trace_id for s in trace_of(observed.receiver, observed.confirmed.trip_id) or ()}
    assert confirmed_trace.isdisjoint({s.trace_id for s in spans})


async def test_the_timeline_script_prints_a_trip_from_the_span_file(
    observed: Observed, capsys: pytest.CaptureFixture[str]
) -> None:
    trip_id = observed.failed.trip_id
    await wait_for(
        lambda: _now(trace_of(observed.receiver, trip_id, CANCELS)), what="the failed trip's trace"
    )
    assert trace_timeline.main(["--file", str(observed.receiver.path), "--trip", trip_id]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"trip {trip_id}") and "5 processes" in printed
    assert "ScheduleCab  ! FAILED_PRECONDITION" in printed and "CancelFlightBooking" in printed


async def test_watch_trip_streams_with_tracing_on(observed: Observed) -> None:
    watch = observed.stack.trips().WatchTrip(trip_pb2.WatchTripRequest(trip_id=observed.failed.trip_id))
    seen = [trip.status async for trip in watch]
    assert seen[-1] == trip_pb2.TRIP_STATUS_FAILED


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


async def scrape(address: str, *needles: str) -> str:
    async def probe() -> str | None:
        text = await asyncio.to_thread(_get, f"http://{address}/metrics")
        return text if all(re.search(needle, text) for needle in needles) else None

    return await wait_for(probe, timeout=30, what=f"{needles} at {address}")


async def test_every_grpc_server_exports_handled_calls_and_latency(observed: Observed) -> None:
    for name, service, method in [
        ("flight", "tripbooking.flight.v1.FlightService", "CancelFlightBooking"),
        ("hotel", "tripbooking.hotel.v1.HotelService", "ReserveHotel"),
        ("trip", "tripbooking.trip.v1.TripService", "BookTrip"),
    ]:
        labels = f'grpc_code="OK",grpc_method="{method}",grpc_service="{service}"'
        handled = rf"grpc_server_handled_total\{{[^}}]*{labels}[^}}]*\}} [1-9]"
        await scrape(observed.metrics[name], handled, r"grpc_server_handling_seconds_bucket\{")
    sold_out = r'grpc_server_handled_total\{[^}]*grpc_code="FAILED_PRECONDITION",grpc_method="ScheduleCab"'
    await scrape(observed.metrics["cab"], sold_out, r"process_cpu_seconds_total")


async def test_the_worker_counts_statuses_compensations_and_attempts(observed: Observed) -> None:
    await scrape(
        observed.metrics["worker"],
        r'trip_status_transitions_total\{[^}]*status="CONFIRMED"[^}]*\} [1-9]',
        r'trip_status_transitions_total\{[^}]*status="FAILED"',
        r'trip_compensations_total\{[^}]*step="flight"[^}]*\} [1-9]',
        r'trip_step_attempts_total\{[^}]*action="book"[^}]*outcome="FAILED_PRECONDITION"[^}]*reason="SOLD_OUT"',
        r'trip_step_attempts_total\{[^}]*action="cancel"[^}]*outcome="OK"',
        r"temporal_long_request",  # the SDK's own metrics on the same endpoint
    )


def log_lines(stack: Stack) -> dict[str, list[dict[str, object]]]:
    """Every process's log, each line parsed: a line that is not one JSON object fails the test."""
    parsed: dict[str, list[dict[str, object]]] = {}
    for name, process in stack.processes.items():
        assert process.log_path is not None
        lines = [line for line in process.log_path.read_text().splitlines() if line.strip()]
        parsed[name] = [json.loads(line) for line in lines]
        assert all(isinstance(entry, dict) and "level" in entry for entry in parsed[name]), name
    return parsed


async def test_every_log_line_is_json_and_trip_lines_name_the_trip(observed: Observed) -> None:
    trip_id = observed.failed.trip_id

    async def about_trip() -> dict[str, list[dict[str, object]]] | None:
        lines = {
            name: [e for e in entries if trip_id in json.dumps(e)]
            for name, entries in log_lines(observed.stack).items()
        }
        return (
            lines if all(lines.get(name) for name in ("flight", "hotel", "cab", "worker", "trip")) else None
        )

    lines = await wait_for(about_trip, what="log lines about the trip in every process")
    for name, entries in lines.items():
        assert all(entry.get("trip_id") == trip_id for entry in entries), (name, entries)
    worker = {str(entry["msg"]) for entry in lines["worker"]}
    assert {"trip COMPENSATING", "trip FAILED", "compensating flight", "cancel flight: OK"} <= worker
    assert any(entry.get("method", "").endswith("/BookTrip") for entry in lines["trip"])  # type: ignore[attr-defined]


async def health_status(address: str) -> int | None:
    """The worker's health status, or None when nothing answers."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        except grpc.aio.AioRpcError:
            return None
        return int(reply.status)


async def test_worker_health_is_serving_only_while_it_polls(observed: Observed, tmp_path: Path) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    assert await wait_for(lambda: _equal(health_status(observed.worker_health), serving), what="SERVING")
    # A worker that cannot reach Temporal has no pollers: its health says so.
    stranded_health = f"127.0.0.1:{free_port()}"
    env = {
        **observed.stack.env(),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TRIP_HEALTH_ADDR": stranded_health,
    }
    stranded = ChildProcess.python(
        "stranded", "orchestrator.worker", env=env, log_path=tmp_path / "stranded.log"
    ).start()
    # A second real worker: SERVING, then not once SIGTERM makes it stop polling.
    second_health = f"127.0.0.1:{free_port()}"
    env = {**observed.stack.env(), "TRIP_HEALTH_ADDR": second_health}
    second = ChildProcess.python(
        "second", "orchestrator.worker", env=env, log_path=tmp_path / "second.log"
    ).start()
    try:
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert await wait_for(lambda: _equal(health_status(stranded_health), not_serving), what="NOT_SERVING")
        assert await wait_for(lambda: _equal(health_status(second_health), serving), what="second SERVING")
        second.signal(signal.SIGTERM)

        async def stopped_serving() -> bool:
            return await health_status(second_health) != serving

        assert await wait_for(stopped_serving, what="not SERVING after SIGTERM")
    finally:
        await stranded.stop()
        await second.stop()


async def _now(value: list[Span] | None) -> list[Span] | None:
    return value


async def _equal(status: Awaitable[int | None], expected: int) -> bool:
    return (await status) == expected

"""`STACK_OBSERVE=1 make up` as a library on free ports: a booked trip shows up as a timeline from the
span file, every process answers /metrics, the worker's health is SERVING, and Prometheus (when
Debian's package is installed; required in CI) scrapes all five processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path

import grpc
import pytest
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from scripts import trace_timeline
from scripts.otlp_receiver import Span
from scripts.stack import Stack, StackOptions, StackPorts
from scripts.stack_cli import describe
from scripts.stack_observe import METRICS_PROCESSES, ObservePorts
from tests.orchestrator.trips import TripRequests
from tests.support.processes import wait_serving
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

JOBS = {"trip-api", "trip-worker", "flight-svc", "hotel-svc", "cab-svc"}


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


async def test_observe_mode_traces_meters_and_scrapes_the_stack(tmp_path: Path) -> None:
    ports = ObservePorts.free()
    options = StackOptions(ports=StackPorts.free(), state_dir=tmp_path / "state", observe=ports)
    options.log_dir = tmp_path / "logs"
    async with Stack(options) as stack:
        async with grpc.aio.insecure_channel(stack.addresses["api"]) as channel:
            reply = await trip_pb2_grpc.TripServiceStub(channel).BookTrip(
                TripRequests(first_day=150, prefix="up")(), timeout=60
            )
        assert reply.trip.status == trip_pb2.TRIP_STATUS_CONFIRMED
        assert stack.observability is not None
        traces = stack.observability.traces

        async def timeline() -> dict[str, list[Span]] | None:
            if not traces.exists():
                return None
            found = trace_timeline.trips(trace_timeline.read_spans(traces)).get(reply.trip_id, [])
            return {"spans": found} if {s.service for s in found} == JOBS else None

        await wait_for(timeline, timeout=30, what="the trip's spans in the file")
        for process in METRICS_PROCESSES:
            text = await asyncio.to_thread(_get, f"http://{ports.metrics_addr(process)}/metrics")
            assert "# TYPE" in text, process
        await wait_serving(f"127.0.0.1:{ports.worker_health}")
        if not stack.prometheus:
            if os.environ.get("CI") == "true":
                pytest.fail("prometheus is not installed in CI (make tools)")
            pytest.skip("Debian's prometheus is not installed: make tools")

        async def all_up() -> bool:
            url = f"http://127.0.0.1:{ports.prometheus}/api/v1/targets"
            targets = json.loads(await asyncio.to_thread(_get, url))["data"]["activeTargets"]
            return {t["labels"]["job"] for t in targets if t["health"] == "up"} == JOBS

        await wait_for(all_up, timeout=60, interval=0.5, what="Prometheus scraping all five processes")
        assert "Prometheus" in describe(stack) and "traces" in describe(stack)

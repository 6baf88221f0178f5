"""The benchmark's pure parts: percentiles, the closed-loop runner, the workload spread, the table."""

from __future__ import annotations

import asyncio
import itertools

from scripts.bench import parse_args, stack_label
from scripts.bench_measure import LoadResult, ProcessUsage, percentile, run_load
from scripts.bench_report import LevelReport, format_table
from scripts.bench_workload import Workload


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


async def test_run_load_makes_exactly_count_calls_with_fresh_indexes() -> None:
    seen: list[int] = []

    async def call(index: int) -> None:
        seen.append(index)
        await asyncio.sleep(0)
        if index == 105:
            raise RuntimeError("boom")

    result = await run_load(call, concurrency=8, count=40, first_index=100)
    assert sorted(seen) == list(range(100, 140))
    assert result.count == 39 and result.errors == ["RuntimeError: boom"]


def test_workload_spreads_requests_and_skips_tiny_hotels() -> None:
    workload = Workload.from_catalogs("t")
    assert "lis-tiny-inn" not in workload.hotels
    trips = [workload.trip_request(i) for i in range(200)]
    assert len({t.request_id for t in trips}) == 200
    # Neighbouring requests never share a flight/date, hotel/night or cab hour.
    for a, b in itertools.pairwise(trips):
        assert (a.flight.flight_number, a.flight.date) != (b.flight.flight_number, b.flight.date)
        assert (a.hotel.hotel_id, a.hotel.check_in) != (b.hotel.hotel_id, b.hotel.check_in)
        assert (a.cab.city, a.cab.pickup_time) != (b.cab.city, b.cab.pickup_time)
    # The baseline's three bookings carry the request's key with the step as suffix (like the saga's),
    # all different, and none shared with another request's.
    keys = [request.idempotency_key for request in workload.direct_requests(3)]
    assert keys == [f"{workload.key(3)}:{step}" for step in ("flight", "hotel", "cab")]
    assert len(set(keys)) == 3
    assert not set(keys) & {request.idempotency_key for request in workload.direct_requests(4)}


def test_table_shows_ratio_to_the_direct_baseline() -> None:
    usage = {"worker": ProcessUsage(cpu_s=1.0, peak_rss_mb=100.0)}
    direct = LevelReport.build("direct", LoadResult(1, [2.0] * 10, [], 1.0), usage, 0.5)
    trip = LevelReport.build("booktrip", LoadResult(1, [20.0] * 5, [], 1.0), usage, 0.5)
    table = format_table([direct, trip])
    assert "booktrip" in table and "10.00" in table  # p50 is 10x the baseline's
    assert trip.cpu_ms_per_trip["worker"] == 200.0


def test_results_say_which_server_was_measured() -> None:
    assert stack_label(parse_args([])) == "own (scripts.stack, tuned dev server)"
    untuned = stack_label(parse_args(["--no-tuning", "--worker-flags=--workflow-sandbox on"]))
    assert untuned == "own (scripts.stack, untuned dev server (--no-tuning), worker --workflow-sandbox on)"
    assert "--temporal-env GOGC=400" in stack_label(parse_args(["--temporal-env", "GOGC=400"]))
    assert stack_label(parse_args(["--use-running"])) == "running (--use-running)"

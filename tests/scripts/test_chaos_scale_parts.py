"""The pure parts of a scaled `make chaos` (`--replicas/--workers/--apis`): which processes each fault
hits, the command line, the evidence of work read from call logs, and the checks that use them.

A run of one of each must draw exactly the faults it drew before scale-out existed; a scaled run the
same kinds, gaps and downtimes, each aimed at one replica, worker or API, and over a run every one of
them.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import grpc
import pytest

from scripts.chaos_config import parse_args
from scripts.chaos_invariants import check_all
from scripts.chaos_observe import Observed, patiently, retryable_rpc
from scripts.chaos_plan import (
    KILL_NODE,
    KILL_TEMPORAL_AND_WORKER,
    FaultEvent,
    PlanOptions,
    fault_events,
    instance_name,
    part_of,
)
from scripts.chaos_report import work_lines
from scripts.chaos_work import api_work, ok_calls, replica_work
from scripts.stack_scale import instance_names
from tests.scripts.test_chaos_parts import PLANS, _observed, _rows, _trip


def _events(options: PlanOptions, lane: str, count: int = 200) -> list[FaultEvent]:
    return list(itertools.islice(fault_events(options, lane), count))


def test_instance_names_are_the_stacks() -> None:
    for part in ("flight", "worker", "api"):
        assert [instance_name(part, i) for i in (1, 2, 3)] == instance_names(part, 3)
        assert {part_of(name) for name in instance_names(part, 3)} == {part}
    assert part_of("temporal") == "temporal"


@pytest.mark.parametrize("lane", ["services", "core"])
def test_one_of_each_draws_the_faults_it_always_drew_at_the_part_itself(lane: str) -> None:
    for event in _events(PlanOptions(seed=7), lane):
        assert (event.replica, event.worker) == (1, 1)
        if event.kind == KILL_NODE:
            assert event.victims == ["temporal", "worker", event.service]
        elif event.kind == KILL_TEMPORAL_AND_WORKER:
            assert set(event.victims) == {"temporal", "worker"}
            assert event.victims[0] == ("worker" if event.order == "worker-first" else "temporal")
        else:
            assert event.victims == [event.target]  # flight, worker, api, temporal: the first's name


@pytest.mark.parametrize("lane", ["services", "core"])
def test_a_scaled_run_aims_the_same_faults_at_single_replicas_workers_and_apis(lane: str) -> None:
    plain = _events(PlanOptions(seed=7), lane)
    scaled = _events(PlanOptions(seed=7, replicas=2, workers=2, apis=2), lane)
    assert [dataclasses.replace(e, replica=1, worker=1) for e in scaled] == plain
    hit = {name for event in scaled for name in event.victims}
    if lane == "services":
        assert hit == {"flight", "flight-2", "hotel", "hotel-2", "cab", "cab-2"}
    else:
        assert hit >= {"temporal", "worker", "worker-2", "api", "api-2", "flight", "flight-2"}
    for event in scaled:
        assert len(event.victims) == len(set(event.victims))  # one instance of each part at most
        if event.kind == KILL_NODE:
            assert part_of(event.victims[2]) == event.service


def test_parse_args_takes_the_scale_and_refuses_replicas_on_sqlite() -> None:
    default = parse_args([])
    assert (default.replicas, default.workers, default.apis, default.plan.scaled) == (1, 1, 1, False)
    config = parse_args(["--replicas", "2", "--workers", "2", "--apis", "3"])
    assert config.plan.scaled and (config.plan.replicas, config.plan.workers, config.plan.apis) == (2, 2, 3)
    scale = config.scale
    assert (scale.flight, scale.hotel, scale.cab, scale.workers, scale.apis) == (2, 2, 2, 2, 3)
    assert parse_args(["--db", "sqlite", "--workers", "2", "--apis", "2"]).plan.scaled  # no shared tables
    for argv in (["--db", "sqlite", "--replicas", "2"], ["--workers", "0"]):
        with pytest.raises(SystemExit) as exit_:
            parse_args(argv)
        assert exit_.value.code == 2


def test_work_is_read_from_the_call_log_ok_calls_only(tmp_path: Path) -> None:
    log = tmp_path / "flight-2.log"
    lines = [
        {"method": "BookFlight", "code": "OK", "idempotency_key": "trip-a:flight"},
        {"method": "BookFlight", "code": "UNAVAILABLE", "idempotency_key": "trip-b:flight"},
        {"method": "/tripbooking.flight.v1.FlightService/CancelFlightBooking", "code": "OK"},
        {"method": "SearchFlights", "code": "OK"},
    ]
    text = "starting\n" + "\n".join(json.dumps(line) for line in lines) + '\n{"method": "BookFl'
    log.write_text(text)  # the last line cut by a SIGKILL
    assert ok_calls(log)["BookFlight"] == 1
    assert replica_work(log, "flight") == {"bookings": 1, "cancels": 1}
    assert replica_work(tmp_path / "never-started.log", "flight") == {"bookings": 0, "cancels": 0}
    api = tmp_path / "api-2.log"
    api.write_text(json.dumps({"method": "GetTrip", "code": "OK"}) + "\n")
    assert api_work(api) == {"BookTrip": 0, "CancelTrip": 0, "GetTrip": 1}


def _work_observed() -> Observed:
    confirmed, _ = PLANS
    observed = _observed([_trip(confirmed, "TRIP_STATUS_CONFIRMED")], _rows(confirmed))
    observed.work = {
        "flight-2": {"bookings": 3, "cancels": 0},
        "worker-2": {"workflow tasks": 5, "trips": 4},
        "api-2": {"BookTrip": 2, "CancelTrip": 0, "GetTrip": 7},
        "other": {"workflow tasks": 0, "trips": 0},
    }
    return observed


def test_every_process_did_work_holds_only_when_none_sat_idle() -> None:
    observed = _work_observed()
    checks = {inv.name: inv for inv in check_all(PLANS, [], observed)}
    work = checks["every_process_did_work"]
    assert work.held and work.checked == 3  # cancels, CancelTrip and trips are reported, not required
    observed.work["worker-2"]["workflow tasks"] = 0
    observed.work["api-2"]["BookTrip"] = 0
    broken = {inv.name: inv.violations for inv in check_all(PLANS, [], observed) if not inv.held}
    assert list(broken) == ["every_process_did_work"]
    assert {(v["process"], tuple(v["idle"])) for v in broken["every_process_did_work"]} == {
        ("worker-2", ("workflow tasks",)),
        ("api-2", ("BookTrip",)),
    }
    # A run of one of each observes no work, and its table has the invariants it always had.
    plain = _work_observed()
    plain.work = {}
    assert "every_process_did_work" not in {inv.name for inv in check_all(PLANS, [], plain)}


def test_a_replica_whose_search_disagrees_is_named() -> None:
    confirmed, _ = PLANS
    observed = _observed([_trip(confirmed, "TRIP_STATUS_CONFIRMED")], _rows(confirmed))
    observed.replica_search = {name: dict(observed.search) for name in ("flight-2", "hotel-2", "cab-2")}
    assert all(inv.held for inv in check_all(PLANS, [], observed))
    slot = ("hotel", confirmed.request.hotel.hotel_id, confirmed.request.hotel.check_in)
    observed.replica_search["hotel-2"][slot] = 10
    [violation] = next(i.violations for i in check_all(PLANS, [], observed) if i.name == "inventory_adds_up")
    assert violation["slot"] == list(slot) and violation["search_on_other_replicas"] == {"hotel-2": 10}


def test_the_report_lists_who_did_work() -> None:
    lines = work_lines({"flight-2": {"bookings": 3, "cancels": 1}, "worker": {"workflow tasks": 9}})
    assert lines[1].split() == ["flight-2", "bookings", "3,", "cancels", "1"]
    assert lines[2].split() == ["worker", "workflow", "tasks", "9"]


async def test_reads_retry_a_refusal_and_nothing_else() -> None:
    """Six replicas on a PostgreSQL shared with other work can find it out of connections for a while:
    the check's reads retry what a service answers UNAVAILABLE (send it again), never other errors."""

    def error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
        return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "too many clients", "")

    answers: list[object] = [error(grpc.StatusCode.UNAVAILABLE), error(grpc.StatusCode.UNAVAILABLE), 7]

    async def call() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, int)
        return answer

    assert await patiently(call, retryable_rpc) == 7
    answers[:] = [error(grpc.StatusCode.INVALID_ARGUMENT), 7]
    with pytest.raises(grpc.aio.AioRpcError):
        await patiently(call, retryable_rpc)
    assert answers == [7]

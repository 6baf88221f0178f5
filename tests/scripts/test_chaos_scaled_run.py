"""A small seeded scaled-out `make chaos` run in the suite (issue 12): `--replicas 2 --workers 2 --apis 2`.

Two replicas of each booking service on the run's fresh PostgreSQL database, two workers and two APIs;
thirty trips spread over both APIs while single replicas, single workers and single APIs are killed
and restarted (a worker also together with Temporal), and replicas lose requests and replies. Every
invariant must hold, including `every_process_did_work`: each replica booked (its call log), each
worker completed workflow tasks (the trips' histories), each API answered BookTrip
and GetTrip (its call log). The full-size run is in docs/reliability.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.chaos import ChaosConfig, run_chaos
from scripts.chaos_plan import KILL_API, KILL_SERVICE, KILL_TEMPORAL_AND_WORKER, KILL_WORKER, SERVICE_FAULTS
from tests.support import postgres

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]

PROCESSES = {"flight", "flight-2", "hotel", "hotel-2", "cab", "cab-2", "worker", "worker-2", "api", "api-2"}


async def test_a_small_scaled_chaos_run_holds_every_invariant_and_every_process_works(tmp_path: Path) -> None:
    await postgres.require_server()
    config = ChaosConfig(
        trips=30,
        seed=21,
        concurrency=8,
        rate=2.0,
        fault_interval=1.5,
        max_faults=8,
        kinds=(KILL_SERVICE, SERVICE_FAULTS, KILL_WORKER, KILL_API, KILL_TEMPORAL_AND_WORKER),
        step_budget=15.0,
        db="postgres",
        settle_timeout=120.0,
        patience=120.0,
        state_dir=tmp_path,
        quiet=True,
        replicas=2,
        workers=2,
        apis=2,
    )
    code, report, invariants = await run_chaos(config)
    broken = {inv.name: inv.violations[:3] for inv in invariants if not inv.held}
    assert code == 0 and not broken, (broken, report["faults"]["events"])
    assert report["run"]["database"] == "postgres"
    assert sum(report["trips"].values()) == 30
    # Faults hit single processes, named as the stack names them, and never the whole of a part.
    events = report["faults"]["events"]
    assert len(events) >= 3, events
    assert all(set(e["processes"]) <= PROCESSES | {"temporal"} for e in events), events
    assert all(len(set(e["processes"]) & {"worker", "worker-2"}) <= 1 for e in events), events
    # Every replica, worker and API did work, and the invariant that says so checked each of them.
    assert set(report["work"]) >= PROCESSES
    checked = {inv.name: inv.checked for inv in invariants}
    assert checked["every_process_did_work"] == len(PROCESSES)
    assert all(report["work"][name]["bookings"] > 0 for name in PROCESSES if name[0] in "fhc")

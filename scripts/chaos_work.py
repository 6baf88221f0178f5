"""Who did work in a scaled chaos run (`--replicas/--workers/--apis` above 1), from evidence each
process leaves: a booking-service replica's and an API's call log (one JSON line per call, in
`<run>/logs/<name>.log`, appended across restarts), and the worker identities (`pid@host`) in the
trips' workflow histories, mapped back to the worker through every pid it had (ChaosStack.pid_names),
as tests/orchestrator/test_scale_out.py reads them.

A replica, worker or API that never worked proves nothing about the scale-out, so the
`every_process_did_work` invariant (scripts/chaos_invariants.py) breaks the run on one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from scripts.chaos_observe import bounded

BOOK_METHODS = {"flight": "BookFlight", "hotel": "ReserveHotel", "cab": "ScheduleCab"}
CANCEL_METHODS = {"flight": "CancelFlightBooking", "hotel": "CancelHotelReservation", "cab": "CancelCab"}
TRIP_METHODS = ("BookTrip", "CancelTrip", "GetTrip")
WORKFLOW_TASKS = "workflow tasks"
TRIPS = "trips"  # trips a worker completed at least one workflow task of
# The counts every process of its kind must have above zero (the others are reported only: a small
# run may send an API no CancelTrip, or a replica no cancel).
WORK_NEEDED = frozenset({"bookings", WORKFLOW_TASKS, "BookTrip", "GetTrip"})


def ok_calls(log: Path) -> Counter[str]:
    """Calls answered OK, per method, in a process's call log (lines that are not calls are skipped)."""
    counts: Counter[str] = Counter()
    if not log.exists():
        return counts
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{") or '"method"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # the last line of a process killed mid-write
            continue
        method = entry.get("method")
        if entry.get("code") == "OK" and isinstance(method, str):
            counts[method.rsplit("/", 1)[-1]] += 1
    return counts


def replica_work(log: Path, service: str) -> dict[str, int]:
    calls = ok_calls(log)
    return {"bookings": calls[BOOK_METHODS[service]], "cancels": calls[CANCEL_METHODS[service]]}


def api_work(log: Path) -> dict[str, int]:
    calls = ok_calls(log)
    return {method: calls[method] for method in TRIP_METHODS}


async def worker_work(
    client: Client, trip_ids: Iterable[str], pid_names: Mapping[int, str], workers: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Workflow tasks each worker completed, and of how many trips, from the trips' histories.

    The saga's steps are local activities (orchestrator/workflows.py): they run inside the workflow
    task that records them, so the task's identity is also who called the services. An identity that
    is no pid the run started (none, unless a stray worker polled) counts under "other"; a request_id
    that never became a trip is skipped.
    """
    work = {name: {WORKFLOW_TASKS: 0, TRIPS: 0} for name in workers}

    def name_of(identity: str) -> str:
        pid = identity.split("@", 1)[0]
        return pid_names.get(int(pid), "other") if pid.isdigit() else "other"

    async def count(trip_id: str) -> None:
        try:
            history = await client.get_workflow_handle(trip_id).fetch_history()
        except RPCError:  # a request_id that never became a trip has no history
            return
        tasks = Counter(
            name_of(event.workflow_task_completed_event_attributes.identity)
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        )
        for name, count in tasks.items():
            counts = work.setdefault(name, {WORKFLOW_TASKS: 0, TRIPS: 0})
            counts[WORKFLOW_TASKS] += count
            counts[TRIPS] += 1

    await bounded(count(trip_id) for trip_id in trip_ids)
    return work


async def observe_work(
    client: Client,
    log_dir: Path,
    replicas: Mapping[str, Iterable[str]],
    workers: Iterable[str],
    apis: Iterable[str],
    trip_ids: Iterable[str],
    pid_names: Mapping[int, str],
) -> dict[str, dict[str, int]]:
    """Every replica's, worker's and API's work: `replicas` is service -> its replicas' names."""
    work = {
        name: replica_work(log_dir / f"{name}.log", service)
        for service, names in replicas.items()
        for name in names
    }
    work.update(await worker_work(client, trip_ids, pid_names, workers))
    work.update({name: api_work(log_dir / f"{name}.log") for name in apis})
    return work

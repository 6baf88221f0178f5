"""The invariants a chaos run checks, as pure functions of what it sent, heard and found.

Each check returns how many things it looked at and, for each break, a violation that names the trips
and bookings involved, so a failed run says where to look.

How an answer is judged truthful is in scripts/chaos_answers.py.

A scaled run (several replicas, workers or APIs) also asks Search of every replica, and checks that
every replica, worker and API did work (`every_process_did_work`, from scripts/chaos_work.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scripts.chaos_answers import HOLDING, UNDOCUMENTED, untruthful
from scripts.chaos_clients import Answer
from scripts.chaos_observe import SETTLED, BookingRow, Observed, TripView
from scripts.chaos_plan import TripPlan
from scripts.chaos_work import WORK_NEEDED

ENDED_EMPTY = frozenset({"TRIP_STATUS_FAILED", "TRIP_STATUS_CANCELLED"})
MAX_LISTED = 50  # violations kept per invariant in the report


@dataclass
class Invariant:
    name: str
    description: str
    checked: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.violations

    def fail(self, **detail: Any) -> None:
        self.violations.append(detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "checked": self.checked,
            "held": self.held,
            "violation_count": len(self.violations),
            "violations": self.violations[:MAX_LISTED],
        }


def trip_of_key(key: str) -> tuple[str, str]:
    """(trip id, step) of a step's idempotency key (`trip-<request_id>:<step>`)."""
    trip_id, _, step = key.rpartition(":")
    return trip_id, step


def check_all(plans: Sequence[TripPlan], answers: Sequence[Answer], observed: Observed) -> list[Invariant]:
    scaled = [every_process_did_work(observed)] if observed.work else []
    replayed = [histories_replay(observed)] if observed.replays else []
    return [*_checks(plans, answers, observed), *replayed, *scaled]


def _checks(plans: Sequence[TripPlan], answers: Sequence[Answer], observed: Observed) -> list[Invariant]:
    return [
        one_trip_per_request(plans, answers, observed),
        trips_settled(observed),
        confirmed_hold_three(observed),
        ended_hold_nothing(observed),
        no_orphan_bookings(observed),
        inventory_adds_up(observed),
        truthful_answers(answers, observed),
        documented_codes(answers),
    ]


def one_trip_per_request(
    plans: Sequence[TripPlan], answers: Sequence[Answer], observed: Observed
) -> Invariant:
    inv = Invariant(
        "one_trip_per_request_id",
        "every accepted request_id has exactly one trip (one workflow run), carrying one body",
    )
    ok_bodies: dict[str, set[str]] = defaultdict(set)
    for answer in answers:
        if answer.method == "BookTrip" and answer.ok:
            ok_bodies[answer.request_id].add(answer.body_key)
    for plan in plans:
        trip = observed.trips.get(plan.request_id)
        runs = observed.runs.get(plan.trip_id, 0)
        accepted = bool(ok_bodies[plan.request_id]) or trip is not None or runs > 0
        if not accepted:
            continue
        inv.checked += 1
        if trip is None or runs != 1:
            inv.fail(trip_id=plan.trip_id, runs=runs, found=trip is not None, problem="not exactly one trip")
        elif len(ok_bodies[plan.request_id]) > 1:
            inv.fail(trip_id=plan.trip_id, problem="two different bodies were both answered OK")
    return inv


def trips_settled(observed: Observed) -> Invariant:
    inv = Invariant("trips_settled", "every trip ends CONFIRMED, FAILED or CANCELLED once the faults stop")
    for trip in observed.trips.values():
        if trip is None:
            continue
        inv.checked += 1
        if trip.status not in SETTLED:
            inv.fail(trip_id=trip.trip_id, status=trip.status, steps=_steps(trip), reason=trip.failure_reason)
    return inv


def _rows_by_key(observed: Observed) -> dict[str, BookingRow]:
    return {row.key: row for row in observed.rows}


def _steps(trip: TripView) -> str:
    return ", ".join(f"{s.name} {s.status.removeprefix('STEP_STATUS_')} ({s.attempts})" for s in trip.steps)


def confirmed_hold_three(observed: Observed) -> Invariant:
    inv = Invariant(
        "confirmed_trips_hold_three_bookings",
        "a CONFIRMED trip has its flight, hotel and cab BOOKED at the services, with the ids it shows",
    )
    rows = _rows_by_key(observed)
    for trip in observed.trips.values():
        if trip is None or trip.status not in HOLDING:
            continue
        inv.checked += 1
        for step in trip.steps:
            row = rows.get(step.idempotency_key)
            if row is None or row.status != "BOOKED" or row.booking_id != step.confirmation_id:
                inv.fail(
                    trip_id=trip.trip_id,
                    step=step.name,
                    key=step.idempotency_key,
                    confirmation_id=step.confirmation_id,
                    row=None if row is None else row.to_json(),
                )
    return inv


def ended_hold_nothing(observed: Observed) -> Invariant:
    inv = Invariant(
        "ended_trips_hold_nothing",
        "a FAILED or CANCELLED trip holds no booking (each step CANCELLED or absent at its service)",
    )
    rows = _rows_by_key(observed)
    for trip in observed.trips.values():
        if trip is None or trip.status not in ENDED_EMPTY:
            continue
        inv.checked += 1
        for step in trip.steps:
            row = rows.get(step.idempotency_key)
            if row is not None and row.status == "BOOKED":
                inv.fail(
                    trip_id=trip.trip_id,
                    status=trip.status,
                    step=step.name,
                    step_status=step.status,
                    booking=row.to_json(),
                    steps=_steps(trip),
                    reason=trip.failure_reason,
                )
    return inv


def no_orphan_bookings(observed: Observed) -> Invariant:
    inv = Invariant(
        "no_orphan_bookings",
        "every BOOKED row in the services' tables belongs to a CONFIRMED trip",
    )
    trips = {t.trip_id: t for t in observed.trips.values() if t is not None}
    for row in observed.rows:
        if row.status != "BOOKED":
            continue
        inv.checked += 1
        trip_id, step = trip_of_key(row.key)
        trip = trips.get(trip_id)
        if trip is None or trip.status not in HOLDING:
            inv.fail(
                booking=row.to_json(),
                trip_id=trip_id,
                step=step,
                trip_status=None if trip is None else trip.status,
                steps=None if trip is None else _steps(trip),
            )
    return inv


def inventory_adds_up(observed: Observed) -> Invariant:
    """What confirmed trips hold is all that is taken: a slot with an orphan booking does not add up.

    The violation says which side is off: `held_by_booked_rows` differs from `held_by_confirmed_trips`
    when a row no confirmed trip owns holds units (issue 8), from `inventory_taken` when the ledger's
    counter disagrees with its own rows, and `search_shows` when Search disagrees with the ledger.
    """
    inv = Invariant(
        "inventory_adds_up",
        "for every resource and slot: capacity - what CONFIRMED trips hold = capacity - inventory.taken"
        " = what Search shows, and >= 0",
    )
    confirmed = {t.trip_id for t in observed.trips.values() if t is not None and t.status in HOLDING}
    booked: dict[tuple[str, str, str], int] = defaultdict(int)
    held: dict[tuple[str, str, str], int] = defaultdict(int)
    strays: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    slots = set(observed.taken) | set(observed.search)
    for row in observed.rows:
        for resource, slot, quantity in row.units:
            key = (row.service, resource, slot)
            slots.add(key)
            if row.status != "BOOKED":
                continue
            booked[key] += quantity
            if trip_of_key(row.key)[0] in confirmed:
                held[key] += quantity
            else:
                strays[key].append(row.key)
    for key in sorted(slots):
        service, resource, _ = key
        inv.checked += 1
        capacity = observed.capacity.get((service, resource))
        if capacity is None:
            inv.fail(slot=list(key), problem="resource not in the catalog")
            continue
        free = capacity - held[key]
        taken = observed.taken.get(key, 0)
        shown = observed.search.get(key)
        # Each further replica of a scaled run must show the same (it reads the same database).
        others = {
            name: view.get(key)
            for name, view in observed.replica_search.items()
            if name.startswith(f"{service}-") and view.get(key) != free
        }
        if free < 0 or capacity - taken != free or shown != free or others:
            inv.fail(
                slot=list(key),
                capacity=capacity,
                held_by_confirmed_trips=held[key],
                held_by_booked_rows=booked[key],
                inventory_taken=taken,
                search_shows=shown,
                rows_of_no_confirmed_trip=strays[key][:10],
                **({"search_on_other_replicas": others} if others else {}),
            )
    return inv


def every_process_did_work(observed: Observed) -> Invariant:
    """Scaled runs only: no replica, worker or API sat idle (the scale-out is then really exercised)."""
    inv = Invariant(
        "every_process_did_work",
        "every service replica booked (its call log), every worker completed workflow tasks (the "
        "trips' histories), every API answered BookTrip and GetTrip (its call log)",
    )
    for name, counts in sorted(observed.work.items()):
        if name == "other":
            continue
        inv.checked += 1
        idle = sorted(what for what, count in counts.items() if what in WORK_NEEDED and count <= 0)
        if idle:
            inv.fail(process=name, idle=idle, work=counts)
    return inv


def histories_replay(observed: Observed) -> Invariant:
    inv = Invariant(
        "histories_replay",
        "every trip's history replays on today's workflow code (a worker could rebuild every trip)",
    )
    for workflow_id, failure in sorted(observed.replays.items()):
        inv.checked += 1
        if failure:
            inv.fail(trip_id=workflow_id, replay_failure=failure)
    for workflow_id in sorted(set(observed.runs) - set(observed.replays)):
        inv.fail(trip_id=workflow_id, replay_failure="its history was not replayed")
    return inv


def truthful_answers(answers: Sequence[Answer], observed: Observed) -> Invariant:
    inv = Invariant(
        "truthful_answers",
        "no failure answer for a call that took effect, no OK for one that did not (chaos_answers.py)",
    )
    for answer in answers:
        trip = observed.trips.get(answer.request_id)
        if answer.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            continue  # the client gave up while still told to retry: it claims nothing
        inv.checked += 1
        problem = untruthful(answer, trip)
        if problem:
            inv.fail(
                problem=problem,
                answer=answer.to_json(),
                trip=None if trip is None else trip.to_json(),
            )
    return inv


def documented_codes(answers: Sequence[Answer]) -> Invariant:
    inv = Invariant(
        "documented_codes",
        "no final answer is UNKNOWN, INTERNAL or CANCELLED (an unknown outcome must be UNAVAILABLE)",
    )
    for answer in answers:
        inv.checked += 1
        if answer.code in UNDOCUMENTED:
            inv.fail(answer=answer.to_json())
    return inv

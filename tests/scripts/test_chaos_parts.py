"""`make chaos`'s pure parts: the seeded plan, and the invariant checker on hand-made findings.

The checker is what decides whether a run passed, so each check is shown to catch the break it is for
(an orphan booking, a slot that does not add up, a failure answer for a trip that confirmed) and to
let the truthful cases through (ALREADY_EXISTS for a changed body, a retried cancel told it ended).
"""

from __future__ import annotations

import itertools
from datetime import date

from scripts.chaos_clients import Answer
from scripts.chaos_config import parse_args
from scripts.chaos_invariants import check_all
from scripts.chaos_observe import BookingRow, Observed, StepView, TripView
from scripts.chaos_plan import (
    KILL_TEMPORAL_AND_WORKER,
    TINY_HOTEL,
    Catalogs,
    PlanOptions,
    TripPlan,
    body_of,
    fault_events,
    plan_trips,
)

TODAY = date(2027, 1, 1)
CATALOGS = Catalogs(flights=["TB101", "TB102"], hotels=["lis-alfama-lodge"], cities=["Lisbon"])


def test_a_seed_names_the_same_trips_and_faults() -> None:
    options = PlanOptions(trips=200, seed=11)
    first, again = plan_trips(options, TODAY, CATALOGS), plan_trips(options, TODAY, CATALOGS)
    assert [p.request.SerializeToString() for p in first] == [p.request.SerializeToString() for p in again]
    assert list(itertools.islice(fault_events(options, "core"), 50)) == list(
        itertools.islice(fault_events(options, "core"), 50)
    )
    other = plan_trips(PlanOptions(trips=200, seed=12), TODAY, CATALOGS)
    assert [p.request for p in first] != [p.request for p in other]


def test_the_plan_holds_every_kind_of_trouble() -> None:
    plans = plan_trips(PlanOptions(trips=300, seed=7), TODAY, CATALOGS)
    assert len(plans) == 300
    assert len({p.request_id for p in plans}) == 300
    assert any(p.duplicates for p in plans) and any(p.changed_body is not None for p in plans)
    cancels = [p for p in plans if p.cancel_after is not None]
    assert cancels and not any(p.request.wait_for_outcome for p in cancels)
    # Contended trips come in threes on the same nights of the two-room hotel, asking for four rooms.
    contended = [p for p in plans if p.contended]
    assert contended and len(contended) % 3 == 0
    for group in zip(*[iter(contended)] * 3, strict=True):
        assert {p.request.hotel.check_in for p in group} == {group[0].request.hotel.check_in}
        assert {p.request.hotel.hotel_id for p in group} == {TINY_HOTEL}
        assert sum(p.request.hotel.rooms for p in group) == 4
    for plan in plans:
        if plan.changed_body is not None:
            assert plan.changed_body.request_id == plan.request_id
            assert plan.changed_body.customer_id != plan.request.customer_id


def test_services_die_in_one_lane_while_temporal_and_the_worker_die_in_the_other() -> None:
    options = PlanOptions(seed=7)
    services = {e.kind for e in itertools.islice(fault_events(options, "services"), 100)}
    core = {e.kind for e in itertools.islice(fault_events(options, "core"), 100)}
    assert services == {"kill_service", "service_faults", "restart_service"}
    assert core == {
        "kill_worker",
        "kill_api",
        "kill_temporal",
        "kill_temporal_and_worker",
        "kill_node",
        "restart_api",
    }
    nodes = [e for e in itertools.islice(fault_events(options, "core"), 200) if e.kind == "kill_node"]
    assert {e.target for e in nodes} == {"node+flight", "node+hotel", "node+cab"}
    assert all(2.0 <= e.service_down <= 10.0 for e in nodes)


def test_temporal_and_worker_kills_come_close_together() -> None:
    events = list(itertools.islice(fault_events(PlanOptions(seed=7), "core"), 200))
    pairs = [e for e in events if e.kind == KILL_TEMPORAL_AND_WORKER]
    assert pairs and all(0 <= e.between <= 1.5 for e in pairs)
    assert {e.order for e in pairs} == {"worker-first", "temporal-first"}
    # Half the lone Temporal kills flap: killed again 1-3 s after it is back.
    alone = [e for e in events if e.kind == "kill_temporal"]
    assert any(e.again == 0 for e in alone)
    assert all(1.0 <= e.again <= 3.0 and e.down_again > 0 for e in alone if e.again)
    only = PlanOptions(seed=7, kinds=("kill_api",))
    assert {e.kind for e in itertools.islice(fault_events(only, "core"), 20)} == {"kill_api"}
    assert list(fault_events(only, "services")) == []  # a lane with no kind left injects nothing


def test_parse_args_refuses_unknown_fault_kinds() -> None:
    config = parse_args(["--trips", "30", "--seed", "3", "--faults", "kill_worker,kill_api"])
    assert (config.trips, config.seed, config.kinds) == (30, 3, ("kill_worker", "kill_api"))
    try:
        parse_args(["--faults", "kill_everything"])
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("an unknown fault kind must be a usage error")


# --- the checker -----------------------------------------------------------------------------------

PLANS = plan_trips(PlanOptions(trips=2, seed=1, contended_share=0, cancel_share=0), TODAY, CATALOGS)


def _body(plan: TripPlan) -> str:
    return body_of(plan.request.customer_id, plan.request.flight, plan.request.hotel)


def _trip(plan: TripPlan, status: str, step_status: str = "STEP_STATUS_BOOKED") -> TripView:
    """A trip whose steps are all in `step_status`; they show confirmation ids unless never booked."""
    booked = step_status != "STEP_STATUS_PENDING"
    steps = tuple(
        StepView(
            name,
            step_status,
            f"{plan.trip_id}:{name}",
            f"{name[:2].upper()}-{plan.index}" if booked else "",
            1,
            "",
        )
        for name in ("flight", "hotel", "cab")
    )
    return TripView(plan.trip_id, plan.request_id, status, _body(plan), steps, "")


def _rows(plan: TripPlan, status: str = "BOOKED") -> list[BookingRow]:
    request = plan.request
    return [
        BookingRow(
            "flight",
            f"{plan.trip_id}:flight",
            f"FL-{plan.index}",
            status,
            ((request.flight.flight_number, request.flight.date, request.flight.seats),),
        ),
        BookingRow(
            "hotel",
            f"{plan.trip_id}:hotel",
            f"HO-{plan.index}",
            status,
            ((request.hotel.hotel_id, request.hotel.check_in, 1),),
        ),
        BookingRow(
            "cab",
            f"{plan.trip_id}:cab",
            f"CA-{plan.index}",
            status,
            ((request.cab.city, "2027-01-05T10", 1),),
        ),
    ]


def _answer(plan: TripPlan, code: str, status: str = "", method: str = "BookTrip", **kw: str) -> Answer:
    answer = Answer(method, plan.request_id, kw.get("body", "primary"), plan.request.customer_id, _body(plan))
    answer.code, answer.status, answer.message = code, status, kw.get("message", "")
    answer.body_key = kw.get("body_key", answer.body_key)
    answer.attempts = [code]
    return answer


def _observed(trips: list[TripView], rows: list[BookingRow]) -> Observed:
    observed = Observed()
    observed.trips = {t.request_id: t for t in trips}
    observed.runs = {t.trip_id: 1 for t in trips}
    observed.rows = rows
    for row in rows:
        for resource, slot, quantity in row.units:
            key = (row.service, resource, slot)
            observed.capacity[(row.service, resource)] = 10
            held = quantity if row.status == "BOOKED" else 0
            observed.taken[key] = observed.taken.get(key, 0) + held
            observed.search[key] = 10 - observed.taken[key]
    return observed


def _broken(observed: Observed, answers: list[Answer]) -> dict[str, list[dict[str, object]]]:
    return {inv.name: inv.violations for inv in check_all(PLANS, answers, observed) if not inv.held}


def test_a_clean_run_holds_every_invariant() -> None:
    confirmed, failed = PLANS
    observed = _observed(
        [
            _trip(confirmed, "TRIP_STATUS_CONFIRMED"),
            _trip(failed, "TRIP_STATUS_FAILED", "STEP_STATUS_COMPENSATED"),
        ],
        _rows(confirmed) + _rows(failed, "CANCELLED"),
    )
    answers = [
        _answer(confirmed, "OK", "TRIP_STATUS_CONFIRMED"),
        _answer(failed, "OK", "TRIP_STATUS_FAILED"),
        # A changed body refused: the trip carries the other body, so the refusal is true.
        _answer(confirmed, "ALREADY_EXISTS", body="changed", body_key="someone-else|..."),
    ]
    assert _broken(observed, answers) == {}


def test_a_failed_trip_that_still_holds_a_booking_is_named_with_it() -> None:
    confirmed, failed = PLANS
    rows = _rows(confirmed) + _rows(failed, "CANCELLED")
    rows[4] = BookingRow(
        "hotel", rows[4].key, rows[4].booking_id, "BOOKED", rows[4].units
    )  # issue 8's orphan
    observed = _observed(
        [
            _trip(confirmed, "TRIP_STATUS_CONFIRMED"),
            _trip(failed, "TRIP_STATUS_FAILED", "STEP_STATUS_PENDING"),
        ],
        rows,
    )
    broken = _broken(observed, [])
    assert set(broken) == {"ended_trips_hold_nothing", "no_orphan_bookings", "inventory_adds_up"}
    assert broken["no_orphan_bookings"][0]["trip_id"] == failed.trip_id
    # The orphan's room is taken, and Search agrees with the ledger, but no confirmed trip holds it.
    [slot] = broken["inventory_adds_up"]
    assert slot["rows_of_no_confirmed_trip"] == [f"{failed.trip_id}:hotel"]
    assert (slot["held_by_confirmed_trips"], slot["held_by_booked_rows"]) == (0, 1)
    assert broken["no_orphan_bookings"][0]["booking"]["key"] == f"{failed.trip_id}:hotel"  # type: ignore[index]


def test_a_slot_that_does_not_add_up_is_named() -> None:
    confirmed, _ = PLANS
    observed = _observed([_trip(confirmed, "TRIP_STATUS_CONFIRMED")], _rows(confirmed))
    slot = ("hotel", confirmed.request.hotel.hotel_id, confirmed.request.hotel.check_in)
    observed.search[slot] = 10  # Search forgot the room the booking holds
    broken = _broken(observed, [])
    assert list(broken) == ["inventory_adds_up"]
    assert broken["inventory_adds_up"][0]["slot"] == list(slot)


def test_a_failure_answer_for_a_trip_that_confirmed_breaks_the_run() -> None:
    confirmed, _ = PLANS
    observed = _observed([_trip(confirmed, "TRIP_STATUS_CONFIRMED")], _rows(confirmed))
    broken = _broken(observed, [_answer(confirmed, "UNKNOWN", message="Temporal: transport error")])
    assert set(broken) == {"truthful_answers", "documented_codes"}
    # The same answer for a trip that then failed and holds nothing is true, but still not a documented code.
    _, failed = PLANS
    observed = _observed(
        [_trip(failed, "TRIP_STATUS_FAILED", "STEP_STATUS_PENDING")], _rows(failed, "CANCELLED")
    )
    assert set(_broken(observed, [_answer(failed, "UNKNOWN")])) == {"documented_codes"}


def test_cancel_answers_are_judged_by_where_the_trip_went() -> None:
    plan, _ = PLANS
    cancelled = _trip(plan, "TRIP_STATUS_CANCELLED", "STEP_STATUS_COMPENSATED")
    observed = _observed([cancelled], _rows(plan, "CANCELLED"))
    retried = _answer(plan, "FAILED_PRECONDITION", method="CancelTrip", message="already ended CANCELLED")
    assert _broken(observed, [retried]) == {}
    lying = _answer(plan, "FAILED_PRECONDITION", method="CancelTrip", message="trip is failing")
    assert list(_broken(observed, [lying])) == ["truthful_answers"]
    confirmed = _observed([_trip(plan, "TRIP_STATUS_CONFIRMED")], _rows(plan))
    said_ok = _answer(plan, "OK", "TRIP_STATUS_CANCELLED", method="CancelTrip")
    assert list(_broken(confirmed, [said_ok])) == ["truthful_answers"]


def test_a_second_run_or_a_missing_trip_breaks_one_trip_per_request() -> None:
    confirmed, other = PLANS
    observed = _observed([_trip(confirmed, "TRIP_STATUS_CONFIRMED")], _rows(confirmed))
    observed.runs[confirmed.trip_id] = 2
    answers = [_answer(other, "OK", "TRIP_STATUS_CONFIRMED")]  # accepted, yet no trip exists
    broken = _broken(observed, answers)
    assert {v["trip_id"] for v in broken["one_trip_per_request_id"]} == {confirmed.trip_id, other.trip_id}


def test_a_history_that_does_not_replay_or_was_not_replayed_breaks_the_run() -> None:
    confirmed, failed = PLANS
    trips = [
        _trip(confirmed, "TRIP_STATUS_CONFIRMED"),
        _trip(failed, "TRIP_STATUS_FAILED", "STEP_STATUS_COMPENSATED"),
    ]
    observed = _observed(trips, _rows(confirmed) + _rows(failed, "CANCELLED"))
    observed.replays = {confirmed.trip_id: "", failed.trip_id: "[TMPRL1100] Nondeterminism error: ..."}
    assert _broken(observed, []).get("histories_replay") == [
        {"trip_id": failed.trip_id, "replay_failure": "[TMPRL1100] Nondeterminism error: ..."}
    ]
    observed.replays = {confirmed.trip_id: ""}
    assert _broken(observed, []).get("histories_replay") == [
        {"trip_id": failed.trip_id, "replay_failure": "its history was not replayed"}
    ]
    observed.replays = {confirmed.trip_id: "", failed.trip_id: ""}
    assert "histories_replay" not in _broken(observed, [])

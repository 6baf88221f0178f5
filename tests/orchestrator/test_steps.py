"""The saga's step declarations (orchestrator/steps.py): what running trips and recorded histories
depend on stays put, and every implementation serves each activity under its declared name."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from temporalio import activity
from temporalio.converter import default as default_converter

from orchestrator.activities import BookingActivities
from orchestrator.models import BookFlightInput, CancelStepInput, StepConfirmation
from orchestrator.steps import STEPS, TripActivities, activity_name
from tests.orchestrator.fakes import FakeServices, trip_request
from tests.orchestrator.stack import HISTORIES

# Spelled out: these strings are in every recorded history and in the histories of running trips.
ACTIVITY_NAMES = [
    "book_flight",
    "cancel_flight",
    "reserve_hotel",
    "cancel_hotel",
    "schedule_cab",
    "cancel_cab",
]


def test_steps_book_in_order_with_the_activity_names_the_histories_hold() -> None:
    assert [step.name for step in STEPS] == ["flight", "hotel", "cab"]
    declared = [activity_name(method) for step in STEPS for method in (step.book, step.cancel)]
    assert declared == ACTIVITY_NAMES
    recorded = set()
    for path in HISTORIES.glob("*.json"):
        for event in json.loads(path.read_text())["events"]:
            marker = event.get("markerRecordedEventAttributes", {})
            if marker.get("markerName") == "core_local_activity":
                data = marker["details"]["data"]["payloads"][0]["data"]
                recorded.add(json.loads(base64.b64decode(data))["activity_type"])
    assert recorded == set(ACTIVITY_NAMES)


async def test_both_implementations_serve_every_activity_under_its_declared_name() -> None:
    real = BookingActivities("127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1")
    try:
        for implementation in (real, FakeServices()):
            served = [activity._Definition.must_from_callable(fn) for fn in implementation.all()]
            assert [defn.name for defn in served] == ACTIVITY_NAMES
            # Each is the implementation's own method, taking the declared input type.
            for defn, name in zip(served, ACTIVITY_NAMES, strict=True):
                method = getattr(TripActivities, defn.fn.__name__)
                assert defn.fn.__qualname__ == f"{type(implementation).__name__}.{defn.fn.__name__}"
                assert defn.arg_types == activity._Definition.must_from_callable(method).arg_types
                assert defn.ret_type is StepConfirmation, name
    finally:
        await real.close()


def test_an_implementation_that_misses_an_activity_cannot_be_created() -> None:
    class Partial(TripActivities):
        async def book_flight(self, step: BookFlightInput) -> StepConfirmation:
            return StepConfirmation("x")

    with pytest.raises(TypeError):
        Partial()  # type: ignore[abstract]


def test_each_step_books_with_the_payload_shape_running_trips_expect() -> None:
    request = trip_request("r-1", datetime(2027, 1, 10, tzinfo=UTC))
    converter = default_converter().payload_converter

    def shape(value: object) -> dict[str, object]:
        decoded: dict[str, object] = json.loads(converter.to_payloads([value])[0].data)
        return decoded

    bookings = {step.name: shape(step.booking("trip-r-1:" + step.name, request)) for step in STEPS}
    assert bookings["flight"] == {
        "idempotency_key": "trip-r-1:flight",
        "customer_id": "alice",
        "flight": {"flight_number": "TB101", "date": request.flight.date, "seats": 1},
    }
    assert bookings["hotel"] == {
        "idempotency_key": "trip-r-1:hotel",
        "customer_id": "alice",
        "hotel": {
            "hotel_id": "lis-alfama-lodge",
            "check_in": request.hotel.check_in,
            "check_out": request.hotel.check_out,
            "rooms": 1,
        },
    }
    assert bookings["cab"] == {
        "idempotency_key": "trip-r-1:cab",
        "customer_id": "alice",
        "cab": {
            "city": "Lisbon",
            "pickup_time": request.cab.pickup_time,
            "pickup_address": "Airport",
            "dropoff_address": "Alfama",
        },
    }
    assert shape(CancelStepInput("trip-r-1:cab")) == {"idempotency_key": "trip-r-1:cab"}
    assert shape(StepConfirmation("c-1", 1000, "EUR")) == {
        "confirmation_id": "c-1",
        "price_cents": 1000,
        "currency": "EUR",
    }

"""TripService end to end: a real Temporal dev server, the real services on SQLite, the worker and the
API as real processes, driven over gRPC the way a client would.

Each test books on its own flight date, so inventory checks never see another test's bookings.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.trip.v1 import trip_pb2

from scripts.stack_process import ChildProcess
from tests.orchestrator.stack import Stack, running_stack
from tests.orchestrator.trips import (
    CONFIRMED,
    SOLD_OUT_HOTEL,
    TripRequests,
    assert_confirmed,
    assert_sold_out_compensated,
    seats_left,
    step,
)
from tests.support.processes import ROOT, free_port
from tests.support.reflection_client import ReflectionClient, error_info
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

book_request = TripRequests(first_day=40)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


async def get_trip(stack: Stack, trip_id: str) -> trip_pb2.Trip:
    return await stack.trips().GetTrip(trip_pb2.GetTripRequest(trip_id=trip_id), timeout=15)


async def test_reflection_lists_trip_service_and_health(stack: Stack) -> None:
    services = await ReflectionClient(stack.channel("trip")).list_services()
    assert "tripbooking.trip.v1.TripService" in services
    assert "grpc.health.v1.Health" in services


async def test_a_trip_is_confirmed(stack: Stack) -> None:
    request = book_request()
    reply = await assert_confirmed(stack, request)  # confirmed, every step booked, seats taken
    assert reply.trip_id == f"trip-{request.request_id}"
    trip = reply.trip
    assert [s.name for s in trip.steps] == ["flight", "hotel", "cab"]
    assert all(s.confirmation_id for s in trip.steps)
    assert step(trip, "hotel").idempotency_key == f"{reply.trip_id}:hotel"
    assert trip.hotel.hotel_id == "lis-alfama-lodge" and trip.ends_at.seconds > 0
    fetched = await get_trip(stack, reply.trip_id)
    assert fetched.status == CONFIRMED and fetched.request_id == request.request_id


async def test_sold_out_hotel_fails_the_trip_and_gives_the_seats_back(stack: Stack) -> None:
    request = book_request(hotel=SOLD_OUT_HOTEL, rooms=3)
    # Failed, flight compensated, SOLD_OUT on the hotel, the seats free again.
    trip = await assert_sold_out_compensated(stack, request)
    # Every step is undone, also the refused hotel and the cab never tried (see test_lost_task.py).
    assert [s.status for s in trip.steps] == [trip_pb2.STEP_STATUS_COMPENSATED] * 3
    assert trip.failure_reason.startswith("hotel:")


async def test_hotel_down_shows_retries_then_confirms_when_it_is_back(stack: Stack) -> None:
    await stack.processes["hotel"].stop()
    try:
        reply = await stack.trips().BookTrip(book_request(wait=False), timeout=30)

        async def hotel_retrying() -> trip_pb2.Trip | None:
            trip = await get_trip(stack, reply.trip_id)
            hotel = step(trip, "hotel")
            retrying = hotel.status == trip_pb2.STEP_STATUS_IN_PROGRESS and hotel.attempts >= 2
            return trip if retrying and "UNAVAILABLE" in hotel.last_error else None

        trip = await wait_for(hotel_retrying, timeout=30, what="hotel step retrying")
        assert trip.status == trip_pb2.TRIP_STATUS_BOOKING
        assert step(trip, "flight").status == trip_pb2.STEP_STATUS_BOOKED
    finally:
        await stack.start_service("hotel")
    await wait_for(lambda: _has_status(stack, reply.trip_id, CONFIRMED), timeout=60, what="confirmed")


async def _has_status(
    stack: Stack, trip_id: str, status: trip_pb2.TripStatus.ValueType
) -> trip_pb2.Trip | None:
    trip = await get_trip(stack, trip_id)
    return trip if trip.status == status else None


async def test_a_killed_worker_is_replaced_and_the_trip_still_confirms(stack: Stack) -> None:
    await stack.processes["hotel"].stop()
    worker_restarted = False
    try:
        request = book_request(wait=False)
        before = await seats_left(stack, request.flight.date)
        reply = await stack.trips().BookTrip(request, timeout=30)

        async def hotel_tried() -> bool:
            return step(await get_trip(stack, reply.trip_id), "hotel").attempts >= 1

        await wait_for(hotel_tried, timeout=30, what="hotel step started")
        stack.processes["worker"].kill()
        await stack.start_service("hotel")
        stack.start_worker()
        worker_restarted = True
    finally:
        if not stack.processes["hotel"].running:
            await stack.start_service("hotel")
        if not worker_restarted:
            stack.start_worker()
    trip = await wait_for(lambda: _has_status(stack, reply.trip_id, CONFIRMED), timeout=90, what="confirmed")
    assert step(trip, "flight").attempts == 1
    assert await seats_left(stack, request.flight.date) == before - 2


async def test_get_trip_answers_from_the_memo_while_no_worker_runs(stack: Stack) -> None:
    trip = (await stack.trips().BookTrip(book_request(), timeout=60)).trip
    assert trip.status == CONFIRMED, stack.logs()
    await stack.processes["worker"].stop()
    try:
        # The query finds no worker and times out; the last status change is still there.
        fetched = await get_trip(stack, trip.trip_id)
    finally:
        stack.start_worker()
    assert fetched.status == CONFIRMED
    assert [s.status for s in fetched.steps] == [trip_pb2.STEP_STATUS_BOOKED] * 3


async def test_duplicate_book_trip_makes_one_trip_and_takes_inventory_once(stack: Stack) -> None:
    request = book_request()
    before = await seats_left(stack, request.flight.date)
    replies = await asyncio.gather(*(stack.trips().BookTrip(request, timeout=60) for _ in range(3)))
    assert {r.trip_id for r in replies} == {f"trip-{request.request_id}"}
    assert all(r.trip.status == CONFIRMED for r in replies)
    again = await stack.trips().BookTrip(request, timeout=60)
    assert again.trip.steps[0].confirmation_id == replies[0].trip.steps[0].confirmation_id
    assert await seats_left(stack, request.flight.date) == before - 2
    count = await stack.client.count_workflows(f"WorkflowId = 'trip-{request.request_id}'")
    assert count.count == 1

    changed = trip_pb2.BookTripRequest()
    changed.CopyFrom(request)
    changed.flight.seats = 3
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.trips().BookTrip(changed, timeout=30)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_a_finished_trip_is_answered_without_a_second_workflow(stack: Stack) -> None:
    request = book_request(hotel=SOLD_OUT_HOTEL, rooms=3)
    first = await stack.trips().BookTrip(request, timeout=60)
    assert first.trip.status == trip_pb2.TRIP_STATUS_FAILED

    async def closed() -> bool:
        description = await stack.client.get_workflow_handle(first.trip_id).describe()
        return description.close_time is not None

    await wait_for(closed, timeout=30, what="workflow closed")
    # An ended trip is read from its memo: no worker needs to replay it, so none needs to run.
    await stack.processes["worker"].stop()
    try:
        again = await stack.trips().BookTrip(request, timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as cancel:
            await stack.trips().CancelTrip(trip_pb2.CancelTripRequest(trip_id=first.trip_id), timeout=10)
        watch = stack.trips().WatchTrip(trip_pb2.WatchTripRequest(trip_id=first.trip_id), timeout=10)
        watched = [trip async for trip in watch]
    finally:
        stack.start_worker()
    assert again.trip.status == trip_pb2.TRIP_STATUS_FAILED
    assert again.trip.updated_at == first.trip.updated_at
    assert cancel.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already ended" in (cancel.value.details() or "")
    assert [(t.status, t.updated_at) for t in watched] == [
        (trip_pb2.TRIP_STATUS_FAILED, first.trip.updated_at)
    ]


def _an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("field", "mutate"),
    [
        ("request_id", lambda r: setattr(r, "request_id", "")),
        ("customer_id", lambda r: setattr(r, "customer_id", "")),
        ("flight.date", lambda r: setattr(r.flight, "date", "2020-01-01")),
        ("flight.seats", lambda r: setattr(r.flight, "seats", 10)),
        ("hotel.check_out", lambda r: setattr(r.hotel, "check_out", r.hotel.check_in)),
        ("hotel.rooms", lambda r: setattr(r.hotel, "rooms", 0)),
        ("cab.pickup_time", lambda r: setattr(r.cab, "pickup_time", "tomorrow at six")),
        # Earlier today, in an hour that has passed: refused before the flight is booked.
        ("cab.pickup_time", lambda r: setattr(r.cab, "pickup_time", _an_hour_ago())),
        ("hotel", lambda r: r.ClearField("hotel")),
    ],
)
async def test_bad_input_is_invalid_argument_and_starts_nothing(
    stack: Stack, field: str, mutate: object
) -> None:
    request = book_request()
    mutate(request)  # type: ignore[operator]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.trips().BookTrip(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith(f"{field}:")
    info = error_info(caught.value)
    assert info is not None and info.metadata["field"] == field
    if request.request_id:
        with pytest.raises(RPCError) as missing:
            await stack.client.get_workflow_handle(f"trip-{request.request_id}").describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_get_trip_of_an_unknown_id_is_not_found(stack: Stack) -> None:
    for trip_id in ("trip-never-booked", "no-such-thing"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_trip(stack, trip_id)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_watch_streams_until_a_cancelled_trip_ends(stack: Stack) -> None:
    request = book_request()
    before = await seats_left(stack, request.flight.date)
    booked = await stack.trips().BookTrip(request, timeout=60)
    assert booked.trip.status == CONFIRMED
    seen: list[trip_pb2.Trip] = []

    async def watch() -> None:
        call = stack.trips().WatchTrip(trip_pb2.WatchTripRequest(trip_id=booked.trip_id), timeout=60)
        async for trip in call:
            seen.append(trip)

    watching = asyncio.ensure_future(watch())
    await wait_for(lambda: _true(bool(seen)), timeout=15, what="first watched trip")
    cancelled = await stack.trips().CancelTrip(
        trip_pb2.CancelTripRequest(trip_id=booked.trip_id, reason="plans changed"), timeout=60
    )
    assert cancelled.status == trip_pb2.TRIP_STATUS_CANCELLED
    assert cancelled.failure_reason == "plans changed"
    assert all(s.status == trip_pb2.STEP_STATUS_COMPENSATED for s in cancelled.steps)
    await asyncio.wait_for(watching, timeout=60)
    assert seen[0].status == CONFIRMED
    assert seen[-1].status == trip_pb2.TRIP_STATUS_CANCELLED
    assert [t.updated_at.ToDatetime() for t in seen] == sorted(t.updated_at.ToDatetime() for t in seen)
    assert await seats_left(stack, request.flight.date) == before

    # The same CancelTrip again (a client's retry after UNAVAILABLE) is answered with the cancelled trip.
    again = await stack.trips().CancelTrip(trip_pb2.CancelTripRequest(trip_id=booked.trip_id), timeout=30)
    assert again.status == trip_pb2.TRIP_STATUS_CANCELLED and again.updated_at == cancelled.updated_at


async def _true(value: bool) -> bool:
    return value


async def test_list_trips_filters_by_customer_and_status(stack: Stack) -> None:
    customer = f"cust-{uuid.uuid4().hex[:6]}"
    ok = await stack.trips().BookTrip(book_request(customer=customer), timeout=60)
    failed = await stack.trips().BookTrip(
        book_request(customer=customer, hotel=SOLD_OUT_HOTEL, rooms=3), timeout=60
    )
    assert failed.trip.status == trip_pb2.TRIP_STATUS_FAILED
    # BookTrip answers once the trip is FAILED; its workflow closes a moment later (a last timer lets
    # updates that arrived meanwhile answer first). The listing order below is of a closed workflow.
    with pytest.raises(WorkflowFailureError):
        await stack.client.get_workflow_handle(failed.trip_id).result()

    async def listed(status: trip_pb2.TripStatus.ValueType, expected: set[str]) -> list[trip_pb2.Trip] | None:
        reply = await stack.trips().ListTrips(
            trip_pb2.ListTripsRequest(customer_id=customer, status=status),
            timeout=15,
        )
        return list(reply.trips) if {t.trip_id for t in reply.trips} == expected else None

    both = await wait_for(
        lambda: listed(trip_pb2.TRIP_STATUS_UNSPECIFIED, {ok.trip_id, failed.trip_id}),
        timeout=20,
        what="both",
    )
    # Visibility order: running trips first, then ended ones.
    assert [t.trip_id for t in both] == [ok.trip_id, failed.trip_id]
    assert all(t.customer_id == customer and t.request_id for t in both)
    only_failed = await wait_for(
        lambda: listed(trip_pb2.TRIP_STATUS_FAILED, {failed.trip_id}), timeout=20, what="failed only"
    )
    assert only_failed[0].status == trip_pb2.TRIP_STATUS_FAILED
    assert "SOLD_OUT" in step(only_failed[0], "hotel").last_error

    page = await stack.trips().ListTrips(
        trip_pb2.ListTripsRequest(customer_id=customer, page_size=1), timeout=15
    )
    assert len(page.trips) == 1 and page.next_page_token
    rest = await stack.trips().ListTrips(
        trip_pb2.ListTripsRequest(customer_id=customer, page_size=1, page_token=page.next_page_token),
        timeout=15,
    )
    assert [t.trip_id for t in rest.trips] == [failed.trip_id]


async def test_tripctl_books_and_shows_a_trip(stack: Stack) -> None:
    request = book_request()
    flags = [
        "--request-id", request.request_id, "--customer", "carol", "--flight", "TB101",
        "--date", request.flight.date, "--hotel", request.hotel.hotel_id,
        "--check-in", request.hotel.check_in, "--check-out", request.hotel.check_out,
        "--city", "Lisbon", "--pickup-time", request.cab.pickup_time,
        "--pickup-address", "Airport", "--dropoff-address", "Alfama", "--wait",
    ]  # fmt: skip
    booked = await tripctl(stack, "book", *flags)
    assert booked[0] == 0, booked[2]
    assert json.loads(booked[1])["trip"]["status"] == "TRIP_STATUS_CONFIRMED"
    shown = await tripctl(stack, "get", f"trip-{request.request_id}")
    assert shown[0] == 0 and json.loads(shown[1])["customer_id"] == "carol"
    missing = await tripctl(stack, "get", "trip-nope")
    assert missing[0] == 1 and "NOT_FOUND" in missing[2]


async def tripctl(stack: Stack, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "--address", stack.addresses["trip"], *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("field", "list_request"),
    [
        ("page_size", trip_pb2.ListTripsRequest(page_size=-1)),
        ("page_token", trip_pb2.ListTripsRequest(page_token="not base64!")),
        ("status", trip_pb2.ListTripsRequest(status=99)),  # type: ignore[arg-type]
    ],
)
async def test_list_trips_refuses_bad_paging_and_filters(
    stack: Stack, field: str, list_request: trip_pb2.ListTripsRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.trips().ListTrips(list_request, timeout=15)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith(f"{field}:")


async def test_watch_follows_a_booking_to_its_failure(stack: Stack) -> None:
    booked = await stack.trips().BookTrip(book_request(hotel=SOLD_OUT_HOTEL, rooms=3, wait=False), timeout=30)
    call = stack.trips().WatchTrip(trip_pb2.WatchTripRequest(trip_id=booked.trip_id), timeout=60)
    seen = [trip async for trip in call]
    assert seen[-1].status == trip_pb2.TRIP_STATUS_FAILED
    assert step(seen[-1], "flight").status == trip_pb2.STEP_STATUS_COMPENSATED
    stamps = [t.updated_at.ToDatetime() for t in seen]
    assert stamps == sorted(stamps)


async def test_book_get_cancel_watch_with_json_through_reflection_as_grpcurl_would(stack: Stack) -> None:
    # No proto files and no stubs: the service describes itself, requests and replies are JSON.
    client = ReflectionClient(stack.channel("trip"))
    assert "rpc BookTrip" in await client.describe("tripbooking.trip.v1.TripService")
    day = book_request.next_day()
    body = {
        "request_id": f"json-{uuid.uuid4().hex[:8]}",
        "customer_id": "grpcurl-user",
        "flight": {"flight_number": "TB101", "date": day.isoformat(), "seats": 1},
        "hotel": {
            "hotel_id": "lis-alfama-lodge",
            "check_in": day.isoformat(),
            "check_out": (day + timedelta(days=3)).isoformat(),
            "rooms": 1,
        },
        "cab": {
            "city": "Lisbon",
            "pickup_time": f"{day.isoformat()}T18:00:00Z",
            "pickup_address": "Airport",
            "dropoff_address": "Alfama",
        },
        "wait_for_outcome": True,
    }
    booked = await client.call("tripbooking.trip.v1.TripService/BookTrip", body, timeout=60)
    trip_id = str(booked["trip_id"])
    trip = booked["trip"]
    assert isinstance(trip, dict) and trip["status"] == "TRIP_STATUS_CONFIRMED"
    assert [s["status"] for s in trip["steps"]] == ["STEP_STATUS_BOOKED"] * 3
    fetched = await client.call("tripbooking.trip.v1.TripService/GetTrip", {"trip_id": trip_id})
    assert fetched["status"] == "TRIP_STATUS_CONFIRMED" and fetched["customer_id"] == "grpcurl-user"
    cancelled = await client.call(
        "tripbooking.trip.v1.TripService/CancelTrip", {"trip_id": trip_id, "reason": "changed plans"}, 60
    )
    assert cancelled["status"] == "TRIP_STATUS_CANCELLED" and cancelled["failure_reason"] == "changed plans"
    watch = client.stream("tripbooking.trip.v1.TripService/WatchTrip", {"trip_id": trip_id})
    watched = [trip async for trip in watch]
    assert watched[-1]["status"] == "TRIP_STATUS_CANCELLED"
    # CancelTrip again (as a client does after UNAVAILABLE) is answered with the cancelled trip.
    again = await client.call("tripbooking.trip.v1.TripService/CancelTrip", {"trip_id": trip_id})
    assert again["status"] == "TRIP_STATUS_CANCELLED" and again["updated_at"] == cancelled["updated_at"]


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


async def test_a_worker_serves_the_sdk_metrics_for_prometheus(stack: Stack) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {**stack.env(), "TRIP_METRICS_ADDR": address}
    log = stack.workdir / "logs" / "metrics-worker.log"
    extra = ChildProcess.python("worker", "orchestrator.worker", env=env, log_path=log).start()
    try:
        await stack.trips().BookTrip(book_request(), timeout=60)

        async def scrape() -> str | None:
            try:
                text = await asyncio.to_thread(_http_get, f"http://{address}/metrics")
            except OSError:
                return None
            return text if "temporal_long_request" in text else None

        metrics = await wait_for(scrape, timeout=30, what="worker metrics")
        assert "# TYPE" in metrics and 'namespace="default"' in metrics
    finally:
        await extra.stop()

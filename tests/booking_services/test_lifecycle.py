"""Process life: crash and restart, graceful drain on SIGTERM, replicas on one database, faults."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc

from tests.booking_services.stack import (
    Service,
    Stack,
    cab_request,
    day,
    db_target,
    expect_error,
    flight_request,
    seats_left,
    service,
    start_all,
)
from tests.support.waiting import wait_for


async def test_sigkill_and_restart_keeps_every_booking(stack: Stack, tmp_path: Path) -> None:
    """A crash loses nothing that was acknowledged: every booking and cancel is still there."""
    db = str(tmp_path / "flight.db") if stack.store == "sqlite" else stack.base
    first = (await start_all([service("flight", db, tmp_path)]))[0]
    requests = [flight_request(day(80), seats=1 + n % 3, flight_number="TB107") for n in range(30)]
    booked = await asyncio.gather(*(first.call("BookFlight", r) for r in requests))
    cancelled = [
        await first.call("CancelFlightBooking", {"idempotency_key": r["idempotency_key"]})
        for r in requests[:5]
    ]
    before = await first.call("SearchFlights", {"date": day(80)})
    first.process.kill()
    assert first.channel is not None
    await first.channel.close(None)

    second = (await start_all([service("flight", db, tmp_path)]))[0]
    try:
        for reply in [*cancelled, *booked[5:]]:
            got = await second.call("GetFlightBooking", {"idempotency_key": reply["idempotency_key"]})
            assert got == reply
        # Seats held survive too (the search shows the same availability as before the crash).
        assert await second.call("SearchFlights", {"date": day(80)}) == before
    finally:
        await second.close()


async def held_in_flight(svc: Service) -> bool:
    """The service has logged that a call is held by its latency fault (so it is in flight)."""
    return '"event": "fault_latency"' in svc.process.log_tail(200)


async def test_sigterm_turns_health_not_serving_and_finishes_in_flight_calls(tmp_path: Path) -> None:
    svc = service(
        "flight",
        str(tmp_path / "flight.db"),
        tmp_path,
        extra_args=["--fault-latency-ms", "2000", "--fault-methods", "BookFlight"],
    )
    await start_all([svc])
    assert svc.channel is not None
    health = health_pb2_grpc.HealthStub(svc.channel)
    try:
        request = flight_request(day(81))
        slow = flight_pb2_grpc.FlightServiceStub(svc.channel).BookFlight(
            flight_pb2.BookFlightRequest(**cast("dict[str, Any]", request))
        )
        # The premise: the slow call is in flight (past the drain gate) before SIGTERM. The fault
        # interceptor logs when it starts holding a call; a health check answered first proves
        # nothing, since under load it may be served before the slow call is dispatched.
        await wait_for(lambda: held_in_flight(svc), timeout=10, what="the slow call in flight")
        svc.process.signal(signal.SIGTERM)

        async def not_serving() -> bool:
            reply = await health.Check(
                health_pb2.HealthCheckRequest(service="tripbooking.flight.v1.FlightService")
            )
            return reply.status == health_pb2.HealthCheckResponse.NOT_SERVING

        await wait_for(not_serving, timeout=10, what="health NOT_SERVING after SIGTERM")
        await expect_error(svc.call("BookFlight", flight_request(day(81))), grpc.StatusCode.UNAVAILABLE)
        booked = await slow
        assert booked.status == flight_pb2.BOOKED and booked.idempotency_key == request["idempotency_key"]
        assert '"in_flight": 1' in svc.process.log_tail()

        async def exited() -> bool:
            return not svc.process.running

        await wait_for(exited, timeout=15, what="the service to exit")
        assert svc.process.process is not None and svc.process.process.returncode == 0
    finally:
        await svc.close()


async def test_replicas_on_one_database_never_oversell(stack: Stack) -> None:
    """A second cab process on the stack's database; 60 rides race for Dublin's 20 cabs in one hour."""
    replica = (await start_all([service("cab", db_target(stack.store, "cab", stack.base), stack.log_dir)]))[0]
    try:
        pickup = f"{day(90)}T07:45:00Z"
        rides = [cab_request(day(90), city="Dublin", pickup_time=pickup) for _ in range(60)]
        targets = [stack.cab if n % 2 else replica for n in range(60)]
        results = await asyncio.gather(
            *(svc.call("ScheduleCab", ride) for svc, ride in zip(targets, rides, strict=True)),
            return_exceptions=True,
        )
        booked = [r for r in results if isinstance(r, dict)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(booked) == 20 and len(refused) == 40, [r for r in results if not isinstance(r, dict)][:3]
        assert {e.code() for e in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
        for svc in (stack.cab, replica):
            reply = await svc.call("SearchCabs", {"city": "Dublin", "pickup_time": pickup})
            assert reply["cabs_available"] == 0
        # Same key on both replicas at once: one booking.
        ride = cab_request(day(91), city="Dublin")
        same = await asyncio.gather(stack.cab.call("ScheduleCab", ride), replica.call("ScheduleCab", ride))
        assert same[0] == same[1]
    finally:
        await replica.close()


async def test_fault_injection_fails_the_configured_share_and_changes_nothing(tmp_path: Path) -> None:
    svc = service(
        "flight",
        str(tmp_path / "flight.db"),
        tmp_path,
        extra_args=[
            "--fault-rate",
            "0.5",
            "--fault-code",
            "RESOURCE_EXHAUSTED",
            "--fault-methods",
            "BookFlight",
        ],
    )
    await start_all([svc])
    try:
        before = await seats_left(svc, "TB110", day(85))
        requests = [flight_request(day(85), flight_number="TB110") for _ in range(160)]
        results = await asyncio.gather(*(svc.call("BookFlight", r) for r in requests), return_exceptions=True)
        failed = [(r, e) for r, e in zip(requests, results, strict=True) if isinstance(e, BaseException)]
        assert all(isinstance(e, grpc.aio.AioRpcError) for _, e in failed)
        # Every failure is an AioRpcError (asserted above); the filter only narrows the type.
        codes = {e.code() for _, e in failed if isinstance(e, grpc.aio.AioRpcError)}
        assert codes == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert 40 <= len(failed) <= 120, len(failed)  # 50% of 160, far beyond 5 sigma either way
        # A fault strikes before the handler: the failed calls left no trace.
        for request, _ in failed[:10]:
            await expect_error(
                svc.call("GetFlightBooking", {"idempotency_key": request["idempotency_key"]}),
                grpc.StatusCode.NOT_FOUND,
            )
        assert await seats_left(svc, "TB110", day(85)) == before - (160 - len(failed))
        # Methods not listed are untouched.
        for _ in range(20):
            await svc.call("SearchFlights", {"origin": "LIS"})
    finally:
        await svc.close()


async def test_a_lost_reply_fault_commits_the_booking_and_a_retry_takes_nothing_more(tmp_path: Path) -> None:
    # FAULT_PHASE=after: the handler commits, then the caller gets UNAVAILABLE instead of the reply.
    svc = service(
        "flight",
        str(tmp_path / "flight.db"),
        tmp_path,
        extra_args=["--fault-rate", "1", "--fault-methods", "BookFlight", "--fault-phase", "after"],
    )
    await start_all([svc])
    try:
        request = flight_request(day(86), seats=2, flight_number="TB111")
        before = await seats_left(svc, "TB111", day(86))
        for _ in range(3):  # the caller retries, as the saga does, and never sees a reply
            await expect_error(svc.call("BookFlight", request), grpc.StatusCode.UNAVAILABLE)
        booking = await svc.call("GetFlightBooking", {"idempotency_key": request["idempotency_key"]})
        assert booking["status"] == "BOOKED" and booking["seats"] == 2
        assert await seats_left(svc, "TB111", day(86)) == before - 2
    finally:
        await svc.close()

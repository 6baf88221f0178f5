"""The saga end to end with the booking services on PostgreSQL, the production store.

Same processes as test_integration.py, but the three services share one fresh PostgreSQL database,
each in its own schema (flight, hotel, cab), as they would in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tripbooking.trip.v1 import trip_pb2

from tests.orchestrator.stack import SERVICES, Stack, running_stack
from tests.orchestrator.test_integration import CONFIRMED, book_request, seats_left, step
from tests.support import postgres

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    if not await postgres.postgres_available():
        pytest.fail("PostgreSQL is not running at 127.0.0.1:5432")
    dsn = await postgres.create_database("tripbooking_saga")
    try:
        workdir = tmp_path_factory.mktemp("pg")
        async with running_stack(workdir, databases=dict.fromkeys(SERVICES, dsn)) as running:
            yield running
    finally:
        await postgres.drop_database(dsn)


async def test_a_trip_is_confirmed_on_postgres(stack: Stack) -> None:
    request = book_request()
    before = await seats_left(stack, request.flight.date)
    trip = (await stack.trips().BookTrip(request, timeout=60)).trip
    assert trip.status == CONFIRMED, stack.logs()
    assert all(s.status == trip_pb2.STEP_STATUS_BOOKED for s in trip.steps)
    assert await seats_left(stack, request.flight.date) == before - 2


async def test_sold_out_hotel_is_compensated_on_postgres(stack: Stack) -> None:
    request = book_request(hotel="lis-tiny-inn", rooms=3)
    before = await seats_left(stack, request.flight.date)
    trip = (await stack.trips().BookTrip(request, timeout=60)).trip
    assert trip.status == trip_pb2.TRIP_STATUS_FAILED, stack.logs()
    assert step(trip, "flight").status == trip_pb2.STEP_STATUS_COMPENSATED
    assert "SOLD_OUT" in step(trip, "hotel").last_error
    assert await seats_left(stack, request.flight.date) == before

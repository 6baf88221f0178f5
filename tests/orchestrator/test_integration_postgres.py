"""The saga end to end with the booking services on PostgreSQL, the production store.

Same processes as test_integration.py, but the three services share one fresh PostgreSQL database,
each in its own schema (flight, hotel, cab), as they would in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orchestrator.stack import SERVICES, Stack, running_stack
from tests.orchestrator.trips import (
    SOLD_OUT_HOTEL,
    TripRequests,
    assert_confirmed,
    assert_sold_out_compensated,
)
from tests.support import postgres

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]

book_request = TripRequests(first_day=40)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    await postgres.require_server()
    dsn = await postgres.create_database("tripbooking_saga")
    try:
        workdir = tmp_path_factory.mktemp("pg")
        async with running_stack(workdir, databases=dict.fromkeys(SERVICES, dsn)) as running:
            yield running
    finally:
        await postgres.drop_database(dsn)


async def test_a_trip_is_confirmed_on_postgres(stack: Stack) -> None:
    await assert_confirmed(stack, book_request())


async def test_sold_out_hotel_is_compensated_on_postgres(stack: Stack) -> None:
    await assert_sold_out_compensated(stack, book_request(hotel=SOLD_OUT_HOTEL, rooms=3))

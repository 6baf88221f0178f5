"""Alembic migrations of the services' schemas, on SQLite and PostgreSQL.

An empty database and one made by the code before migrations (create_all, with a booking in it)
both end at the newest revision with what booking_runtime.tables describes and no row lost; a
second start changes nothing. The comparison with tables.py is what catches a new column added to
the code without a revision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from booking_runtime import migrations
from booking_runtime.app import open_app
from booking_runtime.storage import Database
from booking_runtime.tables import bookings, metadata
from cab_svc.__main__ import DEFINITION as CAB
from flight_svc.__main__ import DEFINITION as FLIGHT
from hotel_svc.__main__ import DEFINITION as HOTEL
from tests.support import postgres

DEFINITIONS = {"flight": FLIGHT, "hotel": HOTEL, "cab": CAB}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite directory's file prefix, or a fresh PostgreSQL DSN."""
    if request.param == "sqlite":
        yield str(tmp_path)
        return
    await postgres.require_server()
    dsn = await postgres.create_database("tripbooking_migrate")
    try:
        yield dsn
    finally:
        await postgres.drop_database(dsn)


def db_target(target: str, service: str) -> str:
    return target if target.startswith("postgresql") else str(Path(target) / f"{service}.db")


def differences(conn: sa.Connection, schema: str | None) -> list[Any]:
    """What the database lacks or has beyond tables.py (alembic's autogenerate comparison)."""
    if schema is not None:
        conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return [
        d
        for d in compare_metadata(context, metadata)
        if d[0] != "remove_table" or d[1].name != "alembic_version"
    ]


async def inspect(db: Database) -> tuple[str | None, list[Any], int]:
    """(revision, differences from tables.py, bookings held) of a service's database."""
    schema = db.schema if db.postgres else None

    def read(conn: sa.Connection) -> tuple[str | None, list[Any], int]:
        rows = conn.execute(sa.select(sa.func.count()).select_from(bookings)).scalar_one()
        return migrations.current(conn, schema), differences(conn, schema), rows

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


@pytest.mark.parametrize("service", DEFINITIONS)
async def test_an_empty_database_is_migrated_to_head(target: str, service: str) -> None:
    definition = DEFINITIONS[service]
    app = await open_app(definition, db_target(target, service))
    try:
        revision, diffs, _ = await inspect(app.db)
        assert revision == migrations.head(definition.migrations) == f"{service}_0001"
        assert diffs == []
        assert app.catalog, "the catalog is seeded after migrating"
    finally:
        await app.db.close()


@pytest.mark.parametrize("service", DEFINITIONS)
async def test_a_database_made_by_create_all_is_stamped_and_keeps_its_rows(target: str, service: str) -> None:
    definition = DEFINITIONS[service]
    where = db_target(target, service)
    old = Database(where, schema=service)
    try:
        await old.create_schema(metadata)  # what every release before migrations did

        def book(conn: sa.Connection) -> None:
            conn.execute(
                bookings.insert().values(
                    idempotency_key="k1", booking_id="X-1", status="BOOKED", fingerprint="f",
                    customer_id="c", details={}, units=[], price_cents=1, currency="EUR",
                    created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
                )
            )  # fmt: skip

        await old.write(book)
        assert (await inspect(old))[0] is None
    finally:
        await old.close()

    for _ in range(2):  # the first start stamps and upgrades; the second finds nothing to do
        app = await open_app(definition, where)
        try:
            assert await inspect(app.db) == (f"{service}_0001", [], 1)
        finally:
            await app.db.close()

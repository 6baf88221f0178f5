"""Fixtures: the three services on SQLite and on PostgreSQL, started once per store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.booking_services.stack import Stack, db_target, service, start_all
from tests.support import postgres


async def _own_postgres_database() -> str:
    """A database of our own, so the services' schemas are not shared with other test packages.

    Same policy as the `postgres_dsn` fixture (postgres.require_server): a missing server fails
    the tests unless ALLOW_NO_POSTGRES=1 (then they are skipped).
    """
    await postgres.require_server()
    return await postgres.create_database(prefix="booking_test")


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """(store, SQLite directory, root for logs); the stack makes a PostgreSQL database when asked."""
    name: str = request.param
    root = tmp_path_factory.mktemp(f"booking-{name}")
    (root / "db").mkdir()
    return name, str(root / "db"), root


@pytest.fixture(scope="session")
async def stack(store: tuple[str, str, Path]) -> AsyncIterator[Stack]:
    name, base, root = store
    if name == "postgres":
        base = await _own_postgres_database()
    log_dir = root / "logs"
    log_dir.mkdir(exist_ok=True)
    services = [service(svc, db_target(name, svc, base), log_dir) for svc in ("flight", "hotel", "cab")]
    try:
        flight, hotel, cab = await start_all(services)
        yield Stack(name, base, flight, hotel, cab, log_dir)
    finally:
        for svc in services:
            await svc.close()
        if name == "postgres":
            await postgres.drop_database(base)

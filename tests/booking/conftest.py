"""Fixtures: the three services on SQLite and on PostgreSQL, started once per store."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.booking.stack import Service, db_target, service, start_all
from tests.support import postgres


@dataclass
class Stack:
    """flight, hotel and cab on one store ("sqlite" or "postgres")."""

    store: str
    base: str  # the SQLite directory or the PostgreSQL DSN
    flight: Service
    hotel: Service
    cab: Service
    log_dir: Path


async def _own_postgres_database() -> str:
    """A database of our own, so the services' schemas are not shared with other test packages.

    Same policy as the `postgres_dsn` fixture: a missing server fails the tests unless
    ALLOW_NO_POSTGRES=1 (then they are skipped).
    """
    if not await postgres.postgres_available():
        if os.environ.get("ALLOW_NO_POSTGRES") == "1":
            pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
        pytest.fail("PostgreSQL is not running at 127.0.0.1:5432")
    return await postgres.create_database(prefix="booking_test")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
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

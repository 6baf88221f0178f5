"""A throw-away PostgreSQL database per test session on the local server."""

from __future__ import annotations

import os

import pytest

from scripts import postgres_admin

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def postgres_available() -> bool:
    return await postgres_admin.reachable(ADMIN_DSN)


async def require_server() -> None:
    """The one policy for a missing server: fail the test, or skip it with ALLOW_NO_POSTGRES=1.

    CI starts PostgreSQL before the suite, so there a missing server is an error; on a laptop
    without one, ALLOW_NO_POSTGRES=1 skips the PostgreSQL tests instead.
    """
    if await postgres_available():
        return
    where = ADMIN_DSN.rsplit("@", 1)[-1].rsplit("/", 1)[0]
    if os.environ.get("ALLOW_NO_POSTGRES") == "1":
        pytest.skip(f"PostgreSQL is not running at {where}")
    pytest.fail(f"PostgreSQL is not running at {where} (.ci/run starts it; ALLOW_NO_POSTGRES=1 skips)")


async def create_database(prefix: str = "tripbooking_test") -> str:
    """Create an empty database and return its DSN."""
    return await postgres_admin.create_database(ADMIN_DSN, prefix)


async def drop_database(dsn: str) -> None:
    await postgres_admin.drop_database(dsn)

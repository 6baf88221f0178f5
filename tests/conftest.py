"""Fixtures every test package may use."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import postgres


@pytest.fixture(scope="session")
async def postgres_dsn() -> AsyncIterator[str]:
    """DSN of a fresh PostgreSQL database for this test session.

    CI starts PostgreSQL before the suite; a missing server fails the tests
    (set ALLOW_NO_POSTGRES=1 to skip them instead on a laptop without one).
    """
    if not await postgres.postgres_available():
        if os.environ.get("ALLOW_NO_POSTGRES") == "1":
            pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
        pytest.fail("PostgreSQL is not running at 127.0.0.1:5432 (see README: make test starts it in CI)")
    dsn = await postgres.create_database()
    yield dsn
    await postgres.drop_database(dsn)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where a test's child processes write their logs."""
    path = tmp_path / "logs"
    path.mkdir()
    return path

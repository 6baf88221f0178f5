"""Fixtures every test package may use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import postgres


@pytest.fixture(scope="session")
async def postgres_dsn() -> AsyncIterator[str]:
    """DSN of a fresh PostgreSQL database for this test session.

    A missing server fails the tests, or skips them with ALLOW_NO_POSTGRES=1 (postgres.require_server).
    """
    await postgres.require_server()
    dsn = await postgres.create_database()
    yield dsn
    await postgres.drop_database(dsn)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where a test's child processes write their logs."""
    path = tmp_path / "logs"
    path.mkdir()
    return path

"""Throw-away and shared PostgreSQL databases, for the stack, make chaos and the tests: one place that
creates, finds and drops them through the server's maintenance database."""

from __future__ import annotations

import uuid

import asyncpg


def server_dsn(dsn: str, database: str = "postgres") -> str:
    """`dsn` pointed at another database on the same server (the maintenance one by default)."""
    return dsn.rsplit("/", 1)[0] + f"/{database}"


def database_name(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1].split("?", 1)[0]


async def reachable(dsn: str) -> bool:
    """Whether the server answers (in three seconds) for `dsn`."""
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def create_database(admin_dsn: str, prefix: str) -> str:
    """A new empty database named `<prefix>_<random>` on `admin_dsn`'s server; its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_dsn(admin_dsn, name)


async def ensure_database(dsn: str) -> None:
    """Create the DSN's database on its server if it does not exist yet."""
    name = database_name(dsn)
    conn = await asyncpg.connect(server_dsn(dsn), timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(dsn: str) -> None:
    """Drop the DSN's database, closing whatever is still connected to it."""
    conn = await asyncpg.connect(server_dsn(dsn), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(dsn)}" WITH (FORCE)')
    finally:
        await conn.close()

"""One storage layer for every service: SQLAlchemy 2 async Core on SQLite (aiosqlite) or PostgreSQL.

SQLite: WAL, synchronous=NORMAL, busy_timeout; all writes of this process go through one
connection behind an asyncio.Lock and start with `BEGIN IMMEDIATE`, so a transaction holds the
write lock from its first statement (no upgrade deadlocks, and busy_timeout covers other
processes). PostgreSQL: one schema per service via schema_translate_map; schema creation is
serialised with an advisory lock so that replicas starting together do not race.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://"))


def _postgres_url(dsn: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+asyncpg://" + dsn[len(prefix) :]
    raise ValueError(f"not a PostgreSQL DSN: {dsn}")


def _sqlite_url(path: str) -> str:
    if path.startswith("sqlite"):
        return path if "+aiosqlite" in path else path.replace("sqlite://", "sqlite+aiosqlite://", 1)
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{file}"


def _tune_sqlite(engine: AsyncEngine, begin: str) -> None:
    """Pragmas on every new connection; explicit BEGIN so SQLAlchemy, not the driver, owns transactions."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


class Database:
    """A service's database: read and write transactions, dialect-aware inserts, schema set-up."""

    def __init__(self, target: str, schema: str, *, pool_size: int = 10) -> None:
        self.target = target
        self.schema = schema
        self.postgres = is_postgres(target)
        self._write_lock: asyncio.Lock | None = None
        if self.postgres:
            self.engine = create_async_engine(
                _postgres_url(target),
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=False,
                execution_options={"schema_translate_map": {None: schema}},
            )
            self.write_engine = self.engine
        else:
            url = _sqlite_url(target)
            self.engine = create_async_engine(url, pool_size=4, max_overflow=0)
            _tune_sqlite(self.engine, "BEGIN")
            self.write_engine = create_async_engine(url, pool_size=1, max_overflow=0)
            _tune_sqlite(self.write_engine, "BEGIN IMMEDIATE")
            self._write_lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return postgresql.insert(table) if self.postgres else sqlite.insert(table)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any exception."""
        if self._write_lock is None:
            async with self.write_engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot on both dialects)."""
        async with self.engine.connect() as conn:
            yield conn

    async def create_schema(
        self, metadata: sa.MetaData, seed: Callable[[AsyncConnection], Awaitable[None]] | None = None
    ) -> None:
        """Create tables (and the PG schema) if missing, then run `seed`; safe when replicas start at once."""
        async with self.write() as conn:
            if self.postgres:
                lock_id = zlib.crc32(f"tripbooking:{self.schema}".encode())
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(metadata.create_all)
            if seed is not None:
                await seed(conn)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()

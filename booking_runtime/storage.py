"""One storage layer for every service: SQLAlchemy 2 Core on SQLite or PostgreSQL.

A write is a plain function `fn(conn) -> result` run as one transaction, so a booking costs one
hand-off instead of one per statement:

* SQLite: a single writer thread owns one sqlite3 connection (WAL, synchronous=NORMAL,
  busy_timeout) and runs each transaction with `BEGIN IMMEDIATE`, so it holds the write lock
  from its first statement (no lock-upgrade deadlocks; busy_timeout covers other processes).
  Reads go through aiosqlite and see WAL snapshots without waiting for the writer.
* PostgreSQL: asyncpg through SQLAlchemy's async engine; the same function runs inside
  `AsyncConnection.run_sync`. One schema per service via schema_translate_map; schema creation
  takes an advisory lock so that replicas starting together do not race.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000

T = TypeVar("T")


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://"))


def _postgres_url(dsn: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+asyncpg://" + dsn[len(prefix) :]
    raise ValueError(f"not a PostgreSQL DSN: {dsn}")


def _sqlite_path(target: str) -> Path:
    path = target.split("///", 1)[1] if target.startswith("sqlite") else target
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


def _tune_sqlite(engine: sa.Engine, begin: str) -> None:
    """Pragmas on every new connection; explicit BEGIN so SQLAlchemy, not the driver, owns transactions."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


class Database:
    """A service's database: write transactions as functions, async reads, dialect-aware inserts."""

    def __init__(self, target: str, schema: str, *, pool_size: int = 10) -> None:
        self.target = target
        self.schema = schema
        self.postgres = is_postgres(target)
        self._writer: ThreadPoolExecutor | None = None
        self._sync_engine: sa.Engine | None = None
        if self.postgres:
            self.engine = create_async_engine(
                _postgres_url(target),
                pool_size=pool_size,
                max_overflow=pool_size,
                execution_options={"schema_translate_map": {None: schema}},
            )
        else:
            file = _sqlite_path(target)
            self.engine = create_async_engine(f"sqlite+aiosqlite:///{file}", pool_size=4, max_overflow=0)
            _tune_sqlite(self.engine.sync_engine, "BEGIN")
            # One connection, used only by the writer thread (hence check_same_thread off).
            self._sync_engine = sa.create_engine(
                f"sqlite:///{file}",
                poolclass=sa.pool.SingletonThreadPool,
                pool_reset_on_return=None,
                connect_args={"check_same_thread": False},
            )
            _tune_sqlite(self._sync_engine, "BEGIN IMMEDIATE")
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{schema}-sqlite-writer")

    @property
    def dialect(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return postgresql.insert(table) if self.postgres else sqlite.insert(table)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` as one transaction: committed if it returns, rolled back if it raises."""
        if self._writer is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._sqlite_write, fn, args)

    def _sqlite_write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as conn:
            return fn(conn, *args)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot on both dialects)."""
        async with self.engine.connect() as conn:
            yield conn

    async def create_schema(
        self, metadata: sa.MetaData, seed: Callable[[sa.Connection], None] | None = None
    ) -> None:
        """Create tables (and the PG schema) if missing, then run `seed`; safe when replicas start at once."""

        def create(conn: sa.Connection) -> None:
            if self.postgres:
                lock_id = zlib.crc32(f"tripbooking:{self.schema}".encode())
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            metadata.create_all(conn)
            if seed is not None:
                seed(conn)

        await self.write(create)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()

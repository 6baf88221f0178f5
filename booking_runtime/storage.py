"""One storage layer for every service: SQLAlchemy 2 Core on SQLite or PostgreSQL.

A write is a plain function `fn(conn) -> result` run as one transaction, so a booking costs one
hand-off instead of one per statement:

* SQLite: one writer thread with group commit (storage_sqlite.py) runs every write; reads go
  through aiosqlite and see WAL snapshots without waiting for the writer.
* PostgreSQL: asyncpg through SQLAlchemy's async engine; the same function runs inside
  `AsyncConnection.run_sync`. One schema per service via schema_translate_map; schema creation
  takes an advisory lock so that replicas starting together do not race. The ledger's
  one-statement booking uses `autocommit()` connections held for the process's life.

What a booking costs on each store: docs/performance.md (scripts/perf/bench_service.py).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from booking_runtime.storage_sqlite import SqliteWriter, sqlite_path, tune_sqlite

POSTGRES_POOL_SIZE = 5  # pooled connections (and as many overflow) for reads and transactions
AUTOCOMMIT_CONNECTIONS = 6

T = TypeVar("T")


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://"))


def _postgres_url(dsn: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+asyncpg://" + dsn[len(prefix) :]
    raise ValueError(f"not a PostgreSQL DSN: {dsn}")


class Database:
    """A service's database: write transactions as functions, async reads, dialect-aware inserts."""

    def __init__(self, target: str, schema: str) -> None:
        self.target = target
        self.schema = schema
        self.postgres = is_postgres(target)
        self._writer: SqliteWriter | None = None
        self._sync_engine: sa.Engine | None = None
        self._lent: asyncio.Queue[AsyncConnection | None] | None = None
        if self.postgres:
            self.engine = create_async_engine(
                _postgres_url(target),
                pool_size=POSTGRES_POOL_SIZE,
                max_overflow=POSTGRES_POOL_SIZE,
                execution_options={"schema_translate_map": {None: schema}},
                skip_autocommit_rollback=True,
            )
            self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            file = sqlite_path(target)
            self.engine = create_async_engine(f"sqlite+aiosqlite:///{file}", pool_size=4, max_overflow=0)
            tune_sqlite(self.engine.sync_engine, "BEGIN")
            # One connection, held by the writer thread for its whole life.
            self._sync_engine = sa.create_engine(f"sqlite:///{file}", poolclass=sa.pool.StaticPool)
            tune_sqlite(self._sync_engine, "BEGIN IMMEDIATE")
            self._writer = SqliteWriter(self._sync_engine, f"{schema}-sqlite-writer")

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return postgresql.insert(table) if self.postgres else sqlite.insert(table)

    async def write(self, fn: Callable[..., T], *args: Any, batchable: bool = False) -> T:
        """Run `fn(conn, *args)` in a transaction: committed if it returns, rolled back if it raises.

        `batchable=True` lets SQLite commit it together with other queued writes; such an `fn`
        must undo its own statements before raising a ServiceError (see storage_sqlite.SqliteWriter).
        """
        if self._writer is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn, *args)
        result: T = await self._writer.submit(fn, args, batchable)
        return result

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL only: a connection where every statement is its own transaction.

        A few such connections are checked out of the pool once and lent out through a queue:
        SQLAlchemy's per-checkout bookkeeping costs more CPU than the one-statement booking.
        A connection that fails is invalidated and replaced.
        """
        assert self.postgres, "autocommit statements are a PostgreSQL path"
        if self._lent is None:
            self._lent = asyncio.Queue()
            for _ in range(AUTOCOMMIT_CONNECTIONS):
                self._lent.put_nowait(None)  # opened on first use
        conn = await self._lent.get()
        try:
            if conn is None:
                conn = await self._autocommit_engine.connect()
            yield conn
        except asyncpg.PostgresError:
            raise  # the statement failed on the server; the connection is fine (autocommit)
        except sa.exc.DBAPIError as error:
            if error.connection_invalidated and conn is not None:
                await conn.close()
                conn = None
            raise
        except BaseException:
            # Cancelled mid-statement or the connection broke: its state is unknown, replace it.
            if conn is not None:
                await conn.invalidate()
                await conn.close()
            conn = None
            raise
        finally:
            self._lent.put_nowait(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot on both dialects)."""
        async with self.engine.connect() as conn:
            yield conn

    async def create_schema(
        self,
        metadata: sa.MetaData,
        seed: Callable[[sa.Connection], None] | None = None,
        migrate: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        """Create tables (and the PG schema) if missing, then run `seed`; safe when replicas start at once.

        With `migrate` (the services' alembic upgrade) the tables come from it instead of `create_all`.
        """

        def create(conn: sa.Connection) -> None:
            if self.postgres:
                lock_id = zlib.crc32(f"tripbooking:{self.schema}".encode())
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            if migrate is not None:
                migrate(conn)
            else:
                metadata.create_all(conn)
            if seed is not None:
                seed(conn)

        await self.write(create)

    async def close(self) -> None:
        while self._lent is not None and not self._lent.empty():
            conn = self._lent.get_nowait()
            if conn is not None:
                await conn.close()
        await self.engine.dispose()
        if self._writer is not None:
            self._writer.close()
        if self._sync_engine is not None:
            self._sync_engine.dispose()

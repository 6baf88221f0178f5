"""One storage layer for every service: SQLAlchemy 2 Core on SQLite or PostgreSQL.

A write is a plain function `fn(conn) -> result` run as one transaction, so a booking costs one
hand-off instead of one per statement:

* SQLite: a single writer thread owns one sqlite3 connection (WAL, synchronous=NORMAL,
  busy_timeout) and runs transactions with `BEGIN IMMEDIATE`, so each holds the write lock
  from its first statement (no lock-upgrade deadlocks; busy_timeout covers other processes).
  Writes queued meanwhile commit together (group commit). Reads go through aiosqlite and see
  WAL snapshots without waiting for the writer.
* PostgreSQL: asyncpg through SQLAlchemy's async engine; the same function runs inside
  `AsyncConnection.run_sync`. One schema per service via schema_translate_map; schema creation
  takes an advisory lock so that replicas starting together do not race. The ledger's
  one-statement booking uses `autocommit()` connections held for the process's life.

Measured with scripts/perf/bench_service.py (2 cores, client on the same machine): a booking costs
about 0.5 ms of service CPU on either store; the rest is gRPC.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from booking_runtime.errors import ServiceError

SQLITE_BUSY_TIMEOUT_MS = 5000
MAX_BATCH = 64
POSTGRES_POOL_SIZE = 5  # pooled connections (and as many overflow) for reads and transactions
AUTOCOMMIT_CONNECTIONS = 6

T = TypeVar("T")
log = logging.getLogger("booking_runtime.storage")


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


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    batchable: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.future = self.loop.create_future()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller went away (cancelled); the write happened anyway
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _SqliteWriter:
    """The one thread that writes to a SQLite file, with group commit.

    Jobs waiting in the queue are run in one transaction: while a transaction commits, the next
    bookings queue up, so under load each commit (and each hand-off to this thread) serves many.
    In a batch each job runs in its own savepoint, so a job that raises a ServiceError (a refusal
    such as SOLD_OUT) leaves nothing behind while the other jobs still commit; a job alone runs in
    a plain transaction that any error rolls back. Any other exception in a batch rolls it all back
    and each of its jobs is retried alone.
    """

    def __init__(self, engine: sa.Engine, name: str) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], batchable: bool) -> asyncio.Future[Any]:
        job = _Job(fn, args, batchable, asyncio.get_running_loop())
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = self._engine.connect()
        except Exception as error:  # e.g. the file cannot be opened: fail every write, do not hang
            log.error("cannot open the SQLite database for writing: %s", error)
            while (job := self._queue.get()) is not None:
                job.settle(error=error)
            return
        with conn:
            carried: _Job | None = None
            while True:
                job = carried if carried is not None else self._queue.get()
                carried = None
                if job is None:
                    return
                batch = [job]
                while job.batchable and len(batch) < MAX_BATCH:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self._queue.put(None)  # stop after this batch
                        break
                    if not nxt.batchable:
                        carried = nxt  # runs alone, next
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)

    def _run_batch(self, conn: sa.Connection, batch: list[_Job]) -> None:
        if len(batch) == 1:
            self._run_alone(conn, batch[0])
            return
        # Savepoints straight on the sqlite3 connection: two cheap statements per job, where
        # SQLAlchemy's nested transactions cost about a fifth of a booking's CPU.
        raw = conn.connection.driver_connection
        assert raw is not None
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with conn.begin():
                for job in batch:
                    raw.execute("SAVEPOINT job")
                    try:
                        result = job.fn(conn, *job.args)
                    except ServiceError as refusal:
                        # A refusal undoes that job alone; the rest of the batch still commits.
                        raw.execute("ROLLBACK TO job")
                        raw.execute("RELEASE job")
                        outcomes.append((None, refusal))
                        continue
                    raw.execute("RELEASE job")
                    outcomes.append((result, None))
        except Exception as failure:
            log.warning("a batch of %d writes failed (%s); retrying them one by one", len(batch), failure)
            for job in batch:
                self._run_alone(conn, job)
            return
        for job, (result, error) in zip(batch, outcomes, strict=True):
            job.settle(result, error)

    @staticmethod
    def _run_alone(conn: sa.Connection, job: _Job) -> None:
        """One job, one transaction: any exception, a refusal included, rolls all of it back."""
        try:
            with conn.begin():
                result = job.fn(conn, *job.args)
        except Exception as error:
            job.settle(error=error)
            return
        job.settle(result)


class Database:
    """A service's database: write transactions as functions, async reads, dialect-aware inserts."""

    def __init__(self, target: str, schema: str) -> None:
        self.target = target
        self.schema = schema
        self.postgres = is_postgres(target)
        self._writer: _SqliteWriter | None = None
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
            file = _sqlite_path(target)
            self.engine = create_async_engine(f"sqlite+aiosqlite:///{file}", pool_size=4, max_overflow=0)
            _tune_sqlite(self.engine.sync_engine, "BEGIN")
            # One connection, held by the writer thread for its whole life.
            self._sync_engine = sa.create_engine(f"sqlite:///{file}", poolclass=sa.pool.StaticPool)
            _tune_sqlite(self._sync_engine, "BEGIN IMMEDIATE")
            self._writer = _SqliteWriter(self._sync_engine, f"{schema}-sqlite-writer")

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return postgresql.insert(table) if self.postgres else sqlite.insert(table)

    async def write(self, fn: Callable[..., T], *args: Any, batchable: bool = False) -> T:
        """Run `fn(conn, *args)` in a transaction: committed if it returns, rolled back if it raises.

        `batchable=True` lets SQLite commit it together with other queued writes; such an `fn`
        must undo its own statements before raising a ServiceError (see _SqliteWriter).
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

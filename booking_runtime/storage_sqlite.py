"""SQLite's single writer with group commit, and the connection settings every SQLite engine gets.

A single writer thread owns one sqlite3 connection (WAL, synchronous=NORMAL, busy_timeout) and
runs transactions with `BEGIN IMMEDIATE`, so each holds the write lock from its first statement
(no lock-upgrade deadlocks; busy_timeout covers other processes). Writes queued meanwhile commit
together (group commit). `Database` (storage.py) hands its writes here on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from booking_runtime.errors import ServiceError

SQLITE_BUSY_TIMEOUT_MS = 5000
MAX_BATCH = 64

log = logging.getLogger("booking_runtime.storage")


def sqlite_path(target: str) -> Path:
    path = target.split("///", 1)[1] if target.startswith("sqlite") else target
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


def tune_sqlite(engine: sa.Engine, begin: str) -> None:
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
class WriteJob:
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


class SqliteWriter:
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
        self._queue: queue.SimpleQueue[WriteJob | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], batchable: bool) -> asyncio.Future[Any]:
        job = WriteJob(fn, args, batchable, asyncio.get_running_loop())
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
            carried: WriteJob | None = None
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

    def _run_batch(self, conn: sa.Connection, batch: list[WriteJob]) -> None:
        if len(batch) == 1:
            self._run_alone(conn, batch[0])
            return
        # Savepoints straight on the sqlite3 connection: two cheap statements per job, far cheaper
        # than SQLAlchemy's nested transactions (docs/performance.md, "Booking services").
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
    def _run_alone(conn: sa.Connection, job: WriteJob) -> None:
        """One job, one transaction: any exception, a refusal included, rolls all of it back."""
        try:
            with conn.begin():
                result = job.fn(conn, *job.args)
        except Exception as error:
            job.settle(error=error)
            return
        job.settle(result)

"""Start a booking service: database, schema, catalog, ledger, then the gRPC server.

Each service's `__main__` calls `main` with its definition: names, catalog file and a `register`
function that builds its servicer from a `BookingApp`; everything else is the same for all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa

from booking_runtime.catalog import load_catalog, read_catalog_file, seed_catalog
from booking_runtime.config import ServiceConfig, load_service_config
from booking_runtime.faults import FaultInterceptor
from booking_runtime.grpc_metrics import serve_prometheus
from booking_runtime.ledger import Ledger
from booking_runtime.migrations import upgrade
from booking_runtime.server import ServerSpec, run, run_server
from booking_runtime.storage import Database
from booking_runtime.tables import metadata


@dataclass
class BookingApp:
    """What a servicer needs: the ledger and the catalog (loaded from the database)."""

    db: Database
    ledger: Ledger
    catalog: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class BookingServiceDef:
    """The parts of a booking service that differ: names, catalog and servicer."""

    name: str  # "flight": schema name, env prefix, error domain
    service_names: Sequence[str]
    catalog_file: Path
    catalog_key: str  # "flight_number", "hotel_id", "city"
    id_prefix: str  # booking ids look like "FL-3F2A9C1B7D4E"
    unit_name: str  # "seats", "rooms", "cabs": used in messages
    register: Callable[[grpc.aio.Server, BookingApp], None]
    migrations: Path  # the service's alembic revisions, applied at start-up


async def open_app(definition: BookingServiceDef, db_target: str) -> BookingApp:
    """Open the database, migrate its schema to the newest revision, seed the catalog, load it.

    Migrations run at every start, inside the transaction that holds the schema's lock (see
    booking_runtime.migrations), so there is no separate migrate step to forget.
    """
    db = Database(db_target, schema=definition.name)
    items = read_catalog_file(definition.catalog_file, definition.catalog_key)

    def seed(conn: sa.Connection) -> None:
        seed_catalog(db, conn, items, definition.catalog_key)

    def migrate(conn: sa.Connection) -> None:
        upgrade(conn, definition.migrations, db.schema if db.postgres else None)

    await db.create_schema(metadata, seed, migrate)
    return BookingApp(
        db=db,
        ledger=Ledger(db, definition.id_prefix, definition.unit_name),
        catalog=await load_catalog(db),
    )


async def serve_booking_service(definition: BookingServiceDef, config: ServiceConfig) -> None:
    """Run one booking service until SIGTERM/SIGINT."""
    state: dict[str, BookingApp] = {}

    async def on_start() -> None:
        state["app"] = await open_app(definition, config.db)

    async def on_stop() -> None:
        if "app" in state:
            await state["app"].db.close()

    def register(server: grpc.aio.Server) -> None:
        definition.register(server, state["app"])

    interceptors = [FaultInterceptor(config.faults)] if config.faults.enabled else []
    metrics, close_metrics = serve_prometheus(config.metrics_addr) if config.metrics_addr else (None, None)
    try:
        await run_server(
            ServerSpec(
                name=definition.name,
                address=config.address,
                service_names=definition.service_names,
                register=register,
                interceptors=interceptors,
                grace_seconds=config.grace_seconds,
                on_start=on_start,
                on_stop=on_stop,
                log_calls=config.log_calls,
                metrics=metrics,
            )
        )
    finally:
        if close_metrics is not None:
            close_metrics()


def main(definition: BookingServiceDef) -> None:
    """`python -m <name>_svc`: flags and environment for `definition.name`, then serve until stopped."""
    config = load_service_config(definition.name)
    run(lambda: serve_booking_service(definition, config), telemetry_name=f"{definition.name}-svc")

"""Schema migrations of a booking service's database, with alembic, run by the service at start-up.

Each service has its own revision history (`flight_svc/migrations/`, ...), so one service's schema
can change without the others'; the baseline revision of each creates the three tables that
booking_runtime.tables describes. `upgrade` runs on the connection and in the transaction that
`Database.create_schema` opens: on PostgreSQL that transaction holds the service's advisory lock,
so replicas starting together migrate once, one after the other; on SQLite it is the writer
thread's `BEGIN IMMEDIATE` transaction. Each schema keeps its own `alembic_version` table.

A database that an earlier release made with `create_all` (tables, no `alembic_version`) is the
baseline: it is stamped as such and then upgraded like any other.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

SCRIPT_LOCATION = Path(__file__).parent
VERSION_TABLE = "alembic_version"


def alembic_config(
    versions: Path, connection: sa.Connection | None = None, schema: str | None = None
) -> Config:
    """An alembic Config for one service's revisions (`versions`), bound to `connection` if given."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("version_locations", str(versions))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def head(versions: Path) -> str:
    """The newest revision of a service."""
    revision = ScriptDirectory.from_config(alembic_config(versions)).get_current_head()
    assert revision is not None, f"no revision under {versions}"
    return revision


def current(connection: sa.Connection, schema: str | None = None) -> str | None:
    """The revision the database is at; None before any migration ran."""
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return context.get_current_revision()


def upgrade(connection: sa.Connection, versions: Path, schema: str | None = None) -> None:
    """Bring the service's tables (in `schema` on PostgreSQL; None on SQLite) to the newest revision."""
    config = alembic_config(versions, connection, schema)
    inspector = sa.inspect(connection)
    if not inspector.has_table(VERSION_TABLE, schema=schema) and inspector.has_table(
        "bookings", schema=schema
    ):
        base = ScriptDirectory.from_config(config).get_base()
        command.stamp(config, base or "base")  # made by create_all before migrations existed
    command.upgrade(config, "head")

"""Where a chaos run's services keep their data: a fresh PostgreSQL database (dropped after the run) when
the server is reachable, SQLite files in the run's directory otherwise, or whichever the flag forces.

On PostgreSQL the three services share the one database, each in its own schema (flight, hotel, cab),
as in production (booking_runtime/storage.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scripts import postgres_admin
from scripts.chaos_plan import SERVICES

# The server's maintenance database; the run creates its own database next to it.
ADMIN_DSN = os.environ.get("CHAOS_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Databases:
    kind: str  # "postgres" or "sqlite"
    targets: dict[str, str]  # service -> FLIGHT_DB-style target (DSN or file)
    dsn: str | None = None  # the PostgreSQL database to drop after the run

    def env(self) -> dict[str, str]:
        return {f"{name.upper()}_DB": target for name, target in self.targets.items()}

    async def drop(self) -> None:
        if self.dsn is None:
            return
        await postgres_admin.drop_database(self.dsn)
        self.dsn = None


async def open_databases(mode: str, state_dir: Path) -> Databases:
    """`mode` "auto" (PostgreSQL if reachable), "postgres" (required) or "sqlite"."""
    if mode == "postgres" or (mode == "auto" and await postgres_admin.reachable(ADMIN_DSN)):
        dsn = await postgres_admin.create_database(ADMIN_DSN, "tripbooking_chaos")
        return Databases("postgres", dict.fromkeys(SERVICES, dsn), dsn)
    return Databases("sqlite", {name: str(state_dir / f"{name}.db") for name in SERVICES})

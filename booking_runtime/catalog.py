"""Catalog seeding: a service's catalog.json goes into its database once, then is read from there.

The database copy is the source of truth after the first start, so every replica on a shared
PostgreSQL database sees the same flights, hotels and fleets even if their files differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from booking_runtime.storage import Database
from booking_runtime.tables import catalog


def read_catalog_file(path: Path, key: str) -> list[dict[str, Any]]:
    """The items of a catalog.json (a JSON list of objects), checked for a unique `key`."""
    items = json.loads(path.read_text())
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list")
    seen: set[str] = set()
    for item in items:
        item_id = item[key]
        if item_id in seen:
            raise ValueError(f"{path}: duplicate {key} {item_id!r}")
        seen.add(item_id)
    return items


def seed_catalog(db: Database, conn: sa.Connection, items: Sequence[Mapping[str, Any]], key: str) -> None:
    """Insert the items that are not there yet; existing rows are left alone (first start wins)."""
    if not items:
        return
    rows = [{"item_id": item[key], "data": dict(item)} for item in items]
    conn.execute(db.insert(catalog).values(rows).on_conflict_do_nothing(index_elements=[catalog.c.item_id]))


async def load_catalog(db: Database) -> dict[str, dict[str, Any]]:
    """Every catalog item by id."""
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(catalog.c.item_id, catalog.c.data))).all()
    return {item_id: dict(data) for item_id, data in rows}

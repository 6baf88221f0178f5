"""Which trip a booking call belongs to, read from its idempotency key, for the services' call log.

The orchestrator keys each step `<trip_id>:<step>` (orchestrator.models.step_key) with trip ids
`trip-<request_id>`, so a service can name the trip on its log line without any new metadata, and a
key from any other client simply names none.
"""

from __future__ import annotations

from typing import Any

TRIP_PREFIX = "trip-"


def trip_id_from_key(key: str) -> str | None:
    """`trip-r1:flight` -> `trip-r1`; None for a key the orchestrator did not make."""
    if not key.startswith(TRIP_PREFIX):
        return None
    trip_id, separator, step = key.rpartition(":")
    return trip_id if separator and step and trip_id != TRIP_PREFIX else None


def trip_id_of_booking_request(request: Any) -> str | None:
    """The trip a booking service's request belongs to (None for searches and foreign keys)."""
    key = getattr(request, "idempotency_key", None)
    return trip_id_from_key(key) if key else None

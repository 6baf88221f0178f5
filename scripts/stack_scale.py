"""How many of each process the stack runs, their names and ports, and the shared PostgreSQL database.

`make up` runs one of everything by default. With `--replicas 2` (or `flight=2,hotel=3`), `--workers`
and `--apis` it runs more: replica i of a part listens on the first one's port + 100*i by default
(flight 50051, 50151, ...; the API 50050, 50150, ...) or on free ports (tests, benchmarks). The
worker is given every replica's address, comma-separated (orchestrator.channels spreads its calls
round-robin). Replicas of a service must share one database, so a service with more than one runs on
PostgreSQL: its *_DB if that is a DSN, else the stack's database (created if missing), one schema
per service as always.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from scripts.stack_health import free_port

SERVICES = ("flight", "hotel", "cab")
PORT_STEP = 100
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/tripbooking"


@dataclass(frozen=True)
class Scale:
    """Processes per part: replicas of each booking service, workers, API servers."""

    flight: int = 1
    hotel: int = 1
    cab: int = 1
    workers: int = 1
    apis: int = 1

    def __post_init__(self) -> None:
        for name, count in vars(self).items():
            if count < 1:
                raise ValueError(f"{name}: at least one, got {count}")

    def replicas(self, service: str) -> int:
        count: int = getattr(self, service)
        return count

    def count(self, part: str) -> int:
        """Processes of `part`: a service name, "worker" or "api"."""
        return {"worker": self.workers, "api": self.apis}.get(part) or self.replicas(part)


def parse_replicas(text: str) -> dict[str, int]:
    """`"2"` (every service) or `"flight=2,hotel=3"` (the others stay at one)."""
    text = text.strip()
    if text.isdigit():
        return dict.fromkeys(SERVICES, int(text))
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, number = part.partition("=")
        if name.strip() not in SERVICES or not number.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected N or flight=N,hotel=N,cab=N; got {text!r}")
        counts[name.strip()] = int(number)
    return counts


def instance_names(part: str, count: int) -> list[str]:
    """`flight`, `flight-2`, ...: the first keeps the plain name a single-process stack uses."""
    return [part] + [f"{part}-{i}" for i in range(2, count + 1)]


def instance_ports(first: int, count: int, step: int | None = PORT_STEP) -> list[int]:
    """The first port, then one `step` apart each; `step=None`: free ports."""
    return [first] + [first + step * i if step else free_port() for i in range(1, count)]

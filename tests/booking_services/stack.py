"""Start the three booking services as real processes on one store, and talk to them by reflection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from scripts.stack_process import ChildProcess
from tests.support.processes import free_port, wait_serving
from tests.support.reflection_client import ReflectionClient, bad_request, error_info

SERVICES = {
    "flight": "tripbooking.flight.v1.FlightService",
    "hotel": "tripbooking.hotel.v1.HotelService",
    "cab": "tripbooking.cab.v1.CabService",
}

OK_FLIGHT = "TB101"  # LHR -> LIS, 200 seats


def day(offset: int) -> str:
    """A date `offset` days from today (UTC), as YYYY-MM-DD."""
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def db_target(store: str, name: str, base: Path | str) -> str:
    """SQLite: a file under `base`; PostgreSQL: the DSN `base` (each service has its own schema)."""
    return str(base) if store == "postgres" else str(Path(base) / f"{name}.db")


@dataclass
class Service:
    """One running service process and a reflection client on it."""

    name: str
    address: str
    process: ChildProcess
    channel: grpc.aio.Channel | None = None
    client: ReflectionClient = field(init=False)

    def start(self) -> Service:
        self.process.start()
        return self

    async def ready(self) -> Service:
        try:
            await wait_serving(self.address, timeout=30)
        except TimeoutError:
            raise AssertionError(f"{self.name} did not start:\n{self.process.log_tail()}") from None
        self.channel = grpc.aio.insecure_channel(self.address)
        self.client = ReflectionClient(self.channel)
        return self

    async def call(self, method: str, request: dict[str, object] | None = None) -> dict[str, object]:
        return await self.client.call(f"{SERVICES[self.name]}/{method}", request or {})

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close(None)
            self.channel = None
        await self.process.stop()


@dataclass
class Stack:
    """flight, hotel and cab on one store ("sqlite" or "postgres")."""

    store: str
    base: str  # the SQLite directory or the PostgreSQL DSN
    flight: Service
    hotel: Service
    cab: Service
    log_dir: Path


def service(
    name: str,
    db: str,
    log_dir: Path,
    *,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Service:
    """A not-yet-started service on a free port (call .start() then await .ready())."""
    address = f"127.0.0.1:{free_port()}"
    process = ChildProcess.python(
        name,
        f"{name}_svc",
        ["--address", address, "--db", db, "--grace-seconds", "5", *(extra_args or [])],
        env=env or {},
        log_path=log_dir / f"{name}-{address.rsplit(':', 1)[1]}.log",
    )
    return Service(name, address, process)


async def start_all(services: list[Service]) -> list[Service]:
    """Start processes together (start-up dominates test time), then wait until all are SERVING."""
    for svc in services:
        svc.start()
    return list(await asyncio.gather(*(svc.ready() for svc in services)))


async def expect_error(
    call: Awaitable[object], code: grpc.StatusCode, *, reason: str | None = None, field: str | None = None
) -> grpc.aio.AioRpcError:
    """Await a call that must fail with `code` (and ErrorInfo `reason`, BadRequest/metadata `field`)."""
    try:
        reply = await call
    except grpc.aio.AioRpcError as error:
        assert error.code() == code, f"expected {code.name}, got {error.code().name}: {error.details()}"
        info = error_info(error)
        if reason is not None:
            assert info is not None and info.reason == reason, f"expected reason {reason}, got {info}"
        if field is not None:
            assert info is not None and info.metadata.get("field") == field, info
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                assert (error.details() or "").startswith(f"{field}:"), error.details()
                bad = bad_request(error)
                assert bad is not None and [v.field for v in bad.field_violations] == [field]
        return error
    raise AssertionError(f"expected {code.name}, got a reply: {reply}")


async def seats_left(svc: Service, flight: str, date: str) -> int:
    """Seats SearchFlights reports free on `flight` on `date`."""
    reply = await svc.call("SearchFlights", {"date": date})
    flights: list[dict[str, object]] = reply["flights"]  # type: ignore[assignment]
    return next(int(str(f["seats_available"])) for f in flights if f["flight_number"] == flight)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def flight_request(date: str, seats: int = 1, **over: object) -> dict[str, object]:
    return {"idempotency_key": key(), "customer_id": "cust-1", "flight_number": OK_FLIGHT, "date": date,
            "seats": seats, **over}  # fmt: skip


def hotel_request(check_in: str, check_out: str, rooms: int = 1, **over: object) -> dict[str, object]:
    return {"idempotency_key": key(), "customer_id": "cust-1", "hotel_id": "lis-alfama-lodge",
            "check_in": check_in, "check_out": check_out, "rooms": rooms, **over}  # fmt: skip


def cab_request(date: str, **over: object) -> dict[str, object]:
    return {"idempotency_key": key(), "customer_id": "cust-1", "city": "Lisbon",
            "pickup_time": f"{date}T10:30:00+01:00", "pickup_address": "Airport",
            "dropoff_address": "Rua Augusta 1", **over}  # fmt: skip

"""What each security setting adds per trip, measured piece by piece in one process.

`make bench --secure` measures the whole secured stack, but on a shared machine its CPU per trip moves by
more than the security costs; this isolates each piece with process CPU time:

- the payload codec: every payload of a recorded confirmed trip's history sealed and opened once (each
  payload is written once and read at least once, by the worker or the API);
- the JWT check: one HS256 verification per TripService call;
- TLS: a unary gRPC call over mutual TLS against the same call in plaintext, client and server in this
  process (a trip makes four: BookTrip, then one call per booking service).

    python -m scripts.perf.bench_security            # prints a table, and JSON with --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory

from booking_runtime import tls
from orchestrator import codec
from orchestrator.auth import JwtVerifier
from scripts.secure_material import make_material, make_token
from scripts.stack_health import free_port
from scripts.stack_temporal import ROOT

HISTORY = ROOT / "tests" / "orchestrator" / "histories" / "completed.json"
CALLS_PER_TRIP = 4  # BookTrip, BookFlight, ReserveHotel, ScheduleCab


def payloads_of(message: object) -> list[Payload]:
    """Every Payload inside a proto message (fields, repeated fields and maps)."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():  # type: ignore[attr-defined]
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [item for item in value.values() if hasattr(item, "ListFields")]
        elif hasattr(value, "ListFields"):
            items = [value]
        else:
            items = list(value)
        for item in items:
            found += payloads_of(item)
    return found


def cpu_us(work: Callable[[], object], repeat: int) -> float:
    """Process CPU microseconds per call of `work` (after one warm-up call)."""
    work()
    started = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - started) / repeat * 1e6


def codec_per_trip(repeat: int) -> tuple[float, int, int]:
    """(CPU us to seal and open every payload of one trip's history, payloads, bytes)."""
    history = WorkflowHistory.from_json("completed", HISTORY.read_text())
    payloads = [p for event in history.events for p in payloads_of(event)]
    sealer = codec.EncryptionCodec(codec.parse_keys(codec.new_key_entry("bench")))

    def both() -> None:
        sealer.decode_sync(sealer.encode_sync(payloads))

    return cpu_us(both, repeat), len(payloads), sum(p.ByteSize() for p in payloads)


def jwt_per_call(repeat: int) -> float:
    secret = "s" * 48
    verifier = JwtVerifier.from_env({"TRIP_AUTH": "jwt", "TRIP_AUTH_JWT_SECRET": secret})
    assert verifier is not None
    metadata = [("authorization", f"Bearer {make_token(secret, 'alice', ['operator'])}")]
    return cpu_us(lambda: verifier.verify_metadata(metadata), repeat)


async def grpc_per_call(settings: tls.TlsSettings, client: tls.TlsSettings, calls: int) -> float:
    """Process CPU us per unary call (client and server both here), over `settings`."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    address = f"localhost:{free_port()}"
    tls.add_port(server, address, settings)
    await server.start()
    try:
        async with tls.aio_channel(address, settings=client) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest()
            for _ in range(50):  # connect and warm up
                await stub.Check(request)
            started = time.process_time()
            for _ in range(calls):
                await stub.Check(request)
            return (time.process_time() - started) / calls * 1e6
    finally:
        await server.stop(None)


async def tls_per_call(calls: int, rounds: int) -> tuple[float, float]:
    """(plaintext, mutual TLS) CPU us per call: the lowest of `rounds` alternating runs each."""
    with tempfile.TemporaryDirectory() as directory:
        material = make_material(Path(directory))
        secure = tls.TlsSettings.from_env(material.process_env())
        plain = tls.TlsSettings()
        results: dict[str, list[float]] = {"plain": [], "tls": []}
        for _ in range(rounds):
            results["plain"].append(await grpc_per_call(plain, plain, calls))
            results["tls"].append(await grpc_per_call(secure, secure, calls))
    return min(results["plain"]), min(results["tls"])


async def measure(args: argparse.Namespace) -> dict[str, float]:
    codec_us, payloads, size = codec_per_trip(args.repeat)
    jwt_us = jwt_per_call(args.repeat * 10)
    plain_us, tls_us = await tls_per_call(args.calls, args.rounds)
    return {
        "codec_us_per_trip": round(codec_us, 1),
        "codec_payloads_per_trip": payloads,
        "codec_bytes_per_trip": size,
        "jwt_us_per_call": round(jwt_us, 1),
        "grpc_plain_us_per_call": round(plain_us, 1),
        "grpc_mtls_us_per_call": round(tls_us, 1),
        "tls_us_per_trip": round((tls_us - plain_us) * CALLS_PER_TRIP, 1),
        "total_us_per_trip": round(codec_us + jwt_us + (tls_us - plain_us) * CALLS_PER_TRIP, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.perf.bench_security", description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000, help="codec rounds (JWT: ten times as many)")
    parser.add_argument("--calls", type=int, default=2000, help="gRPC calls per TLS round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating plaintext/TLS rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"codec  {figures['codec_us_per_trip']:8.1f} us/trip  "
        f"(seal + open {figures['codec_payloads_per_trip']} "
        f"payloads, {figures['codec_bytes_per_trip']} bytes: one confirmed trip's history)"
    )
    print(f"JWT    {figures['jwt_us_per_call']:8.1f} us/trip  (one HS256 check per TripService call)")
    print(
        f"mTLS   {figures['tls_us_per_trip']:8.1f} us/trip  ({CALLS_PER_TRIP} calls: "
        f"{figures['grpc_mtls_us_per_call']:.1f} vs {figures['grpc_plain_us_per_call']:.1f} us per call, "
        "client + server)"
    )
    print(f"total  {figures['total_us_per_trip']:8.1f} us/trip")


if __name__ == "__main__":
    main()

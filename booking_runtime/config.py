"""Command-line flags and environment for a booking service; every flag has an env twin.

Precedence: flag, then environment (`FLIGHT_SVC_ADDR`, `FLIGHT_DB`, `FLIGHT_FAULT_RATE`, ...),
then the default from DESIGN.md. Keeping it in one place means the three services cannot drift.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from booking_runtime import flags

DEFAULT_PORTS = {"flight": 50051, "hotel": 50052, "cab": 50053}


@dataclass(frozen=True)
class FaultSettings:
    """Chaos for demos and tests: off unless `rate` or `latency_ms` is set.

    `latency_ms` delays every call of the chosen methods; `rate` is the share of those calls
    that then fail with `code`. With `phase` "before" (the default) the failure comes before the
    handler runs, so it changes nothing (a request lost on its way in). With "after" the handler
    runs and commits and only its reply is replaced by the failure (a reply lost on its way out):
    the caller cannot tell whether it booked, which is what idempotency keys and compensation of
    unknown outcomes are for.
    """

    rate: float = 0.0
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    methods: frozenset[str] = field(default_factory=frozenset)  # short names; empty: every business method
    latency_ms: float = 0.0
    phase: str = "before"  # "before" the handler (nothing changes) or "after" it (the reply is lost)

    @property
    def enabled(self) -> bool:
        return self.rate > 0 or self.latency_ms > 0


@dataclass(frozen=True)
class ServiceConfig:
    """Everything a booking service process needs to start."""

    address: str
    db: str
    grace_seconds: float
    log_calls: bool
    faults: FaultSettings
    metrics_addr: str = ""  # host:port of /metrics (Prometheus text); empty: no metrics


def _status_code(text: str) -> grpc.StatusCode:
    try:
        return grpc.StatusCode[text.strip().upper()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown gRPC status code {text!r}") from None


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _methods(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def build_parser(name: str, env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The parser for `python -m <name>_svc`; defaults already reflect the environment."""
    prefix = name.upper()
    port = DEFAULT_PORTS.get(name, 50051)
    parser = argparse.ArgumentParser(
        prog=f"python -m {name}_svc",
        description=f"The {name} booking service (gRPC, with health and reflection).",
    )

    def option(
        target: argparse._ActionsContainer, flag: str, suffix: str, default: str, help: str, **kw: Any
    ) -> None:
        """`flag`, defaulting to env `<PREFIX>_<suffix>` (else `default`), its env name in the help."""
        flags.env_option(target, flag, f"{prefix}_{suffix}", default, help, env, **kw)

    option(parser, "--address", "SVC_ADDR", f"localhost:{port}", "host:port to listen on")
    option(parser, "--db", "DB", f"var/{name}.db", "SQLite file path or postgresql:// DSN")
    option(
        parser,
        "--grace-seconds",
        "GRACE_SECONDS",
        "10",
        "how long in-flight calls may finish after SIGTERM",
        type=float,
    )
    option(parser, "--log-calls", "LOG_CALLS", "1", "one JSON log line per call", type=flags.parse_switch)
    option(parser, "--metrics-addr", "METRICS_ADDR", "", "serve Prometheus /metrics on host:port; empty: off")
    faults = parser.add_argument_group("fault injection (off by default)")
    option(
        faults,
        "--fault-rate",
        "FAULT_RATE",
        "0",
        "share of calls (0..1) that fail before the handler runs",
        type=_rate,
    )
    option(
        faults,
        "--fault-code",
        "FAULT_CODE",
        "UNAVAILABLE",
        "gRPC status code of an injected failure",
        type=_status_code,
    )
    option(
        faults,
        "--fault-methods",
        "FAULT_METHODS",
        "",
        "comma-separated method names, e.g. BookFlight; empty: all",
        type=_methods,
    )
    option(
        faults,
        "--fault-latency-ms",
        "FAULT_LATENCY_MS",
        "0",
        "delay added to every call of those methods",
        type=float,
    )
    option(
        faults,
        "--fault-phase",
        "FAULT_PHASE",
        "before",
        "fail before the handler runs (nothing changes) or after it committed (the reply is lost)",
        type=flags.one_of("before", "after"),
    )
    return parser


def load_service_config(
    name: str, argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> ServiceConfig:
    """Parse flags over the environment for service `name` ("flight", "hotel", "cab")."""
    args = build_parser(name, os.environ if env is None else env).parse_args(argv)
    return ServiceConfig(
        address=args.address,
        db=args.db,
        grace_seconds=args.grace_seconds,
        log_calls=args.log_calls,
        metrics_addr=args.metrics_addr,
        faults=FaultSettings(
            rate=args.fault_rate,
            code=args.fault_code,
            methods=args.fault_methods,
            latency_ms=args.fault_latency_ms,
            phase=args.fault_phase,
        ),
    )

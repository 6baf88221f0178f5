"""What `scripts.stack.Stack` starts and how: one dataclass, so `make up`, the demo, the benchmark
and the tests each say only what differs for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from booking_runtime.tls import TlsSettings
from scripts.stack_observe import ObservePorts
from scripts.stack_ports import StackPorts
from scripts.stack_scale import Scale
from scripts.stack_secure import DEFAULT_CODEC_PORT
from scripts.stack_temporal import ROOT, TemporalDevServer


@dataclass
class StackOptions:
    """What to start and how. `echo` gets every child's output prefixed; else it goes to `log_dir`."""

    ports: StackPorts = field(default_factory=StackPorts)
    state_dir: Path = ROOT / "var"
    temporal: Literal["dev", "external"] = "dev"
    temporal_address: str | None = None  # for "external"; default TEMPORAL_ADDRESS or localhost:7233
    namespace: str = "default"
    task_queue: str = "trip-booking"
    server: TemporalDevServer | None = None  # dev-server settings; ports and db file are filled in
    echo: TextIO | None = None
    log_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # extra environment for every Python child
    use_env_dbs: bool = False  # honour FLIGHT_DB/HOTEL_DB/CAB_DB from the environment if set
    worker_args: list[str] = field(default_factory=list)  # extra flags for orchestrator.worker
    ready_timeout: float = 90.0
    scale: Scale = field(default_factory=Scale)  # replicas per service, workers, APIs
    postgres_dsn: str | None = None  # database of services with several replicas (and no *_DB DSN)
    secure: bool = False  # STACK_SECURE=1: mutual TLS, TRIP_AUTH=jwt, TRIP_CODEC_KEYS, codec server
    codec_port: int = DEFAULT_CODEC_PORT
    observe: ObservePorts | None = None  # traces, metrics, health, Prometheus (scripts/stack_observe.py)
    host: str = "localhost"  # the host part of every server address
    databases: dict[str, str] = field(default_factory=dict)  # service -> its *_DB (default: state_dir)
    process_env: dict[str, dict[str, str]] = field(default_factory=dict)  # child name -> more environment
    probe_tls: TlsSettings | None = None  # how readiness probes dial the servers (default: `secure`'s)
    prometheus: bool = True  # with `observe`, also run Prometheus if it is installed

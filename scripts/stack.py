"""`make up`: the whole trip-booking stack in the foreground; Ctrl-C stops it cleanly.

Starts a Temporal dev server (or, only with `--temporal external` or
STACK_TEMPORAL=external, uses the Temporal at TEMPORAL_ADDRESS), the flight, hotel
and cab services, the orchestrator worker and the TripService API, each after
the one before it is healthy, and prints every address. SIGINT or SIGTERM stops
the children newest first and exits 0. `Stack` is the same thing as a library,
for the demo, the benchmark and tests, on any ports.

    python -m scripts.stack                         # everything, state in var/
    python -m scripts.stack --temporal external     # use Temporal at TEMPORAL_ADDRESS
    python -m scripts.stack --replicas 2 --workers 2 --apis 2   # scaled out (scripts/stack_scale.py)
    python -m scripts.stack --secure                # mutual TLS, JWT, payload codec (docs/security.md)
    STACK_OBSERVE=1 python -m scripts.stack         # with traces, metrics, health, Prometheus
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, TextIO, TypeVar

from booking_runtime import flags
from scripts.stack_health import free_port, wait_for_pollers, wait_grpc_serving
from scripts.stack_observe import Observability, ObservePorts
from scripts.stack_process import ChildProcess
from scripts.stack_scale import (
    DEFAULT_POSTGRES_DSN,
    PORT_STEP,
    Scale,
    ensure_database,
    instance_names,
    instance_ports,
    parse_replicas,
)
from scripts.stack_secure import DEFAULT_CODEC_PORT, SecureStackParts
from scripts.stack_temporal import ROOT, TemporalDevServer, wait_temporal_ready

SERVICES = ("flight", "hotel", "cab")
T = TypeVar("T")


def trip_search_attributes() -> dict[str, str]:
    """The orchestrator's search attributes, to register when the dev server starts.

    Every one is a keyword (orchestrator.search_attributes registers keywords only); a key of
    another type must not be registered as one.
    """
    from temporalio.common import SearchAttributeIndexedValueType

    from orchestrator.search_attributes import ALL_KEYS

    others = [
        key.name for key in ALL_KEYS if key.indexed_value_type != SearchAttributeIndexedValueType.KEYWORD
    ]
    if others:
        raise ValueError(f"search attributes that are not keywords: {others}")
    return {key.name: "Keyword" for key in ALL_KEYS}


@dataclass
class StackPorts:
    """Where each part listens; the defaults are the ones the README lists (`make up`)."""

    temporal: int = 7233
    ui: int | None = 8233
    api: int = 50050
    flight: int = 50051
    hotel: int = 50052
    cab: int = 50053
    step: int | None = PORT_STEP  # further replicas: this many ports apart; None: free ports

    @classmethod
    def free(cls, ui: bool = False) -> StackPorts:
        """Fresh ports, so a test or benchmark never collides with `make up`."""
        return cls(
            free_port(), free_port() if ui else None, free_port(), free_port(), free_port(), free_port(), None
        )


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
    prometheus: bool = True  # with `observe`, also run Prometheus if it is installed


class Stack:
    """The running stack; `async with Stack(options) as stack:` starts it and always stops it."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.children: list[ChildProcess] = []
        self.temporal_address = self._temporal_address()
        ports = options.ports
        self.instances: dict[str, list[tuple[str, str]]] = {
            part: list(
                zip(
                    instance_names(part, options.scale.count(part)),
                    (f"localhost:{p}" for p in instance_ports(first, options.scale.count(part), ports.step)),
                    strict=True,
                )
            )
            for part, first in (("api", ports.api), *((name, getattr(ports, name)) for name in SERVICES))
        }
        self.secure: SecureStackParts | None = None  # made at start (state_dir must exist)
        self.observability = (
            Observability(options.observe, options.state_dir) if options.observe is not None else None
        )
        self.prometheus = False

    def _temporal_address(self) -> str:
        opts = self.options
        if opts.temporal == "external":
            return opts.temporal_address or os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
        return f"127.0.0.1:{opts.ports.temporal}"

    def instance_addresses(self, part: str) -> list[str]:
        """Every replica's address of "api", "flight", "hotel" or "cab" (`addresses` has the first)."""
        return [address for _, address in self.instances[part]]

    @property
    def addresses(self) -> dict[str, str]:
        ports = self.options.ports
        return {
            "api": f"localhost:{ports.api}",
            "flight": f"localhost:{ports.flight}",
            "hotel": f"localhost:{ports.hotel}",
            "cab": f"localhost:{ports.cab}",
            "temporal": self.temporal_address,
        }

    @property
    def ui_url(self) -> str | None:
        ports = self.options.ports
        if self.options.temporal == "external" or ports.ui is None:
            return None
        return f"http://127.0.0.1:{ports.ui}"

    def pids(self) -> dict[str, int]:
        """Process id of every child by name (for CPU and memory meters)."""
        return {child.name: child.pid for child in self.children if child.running}

    def child_env(self) -> dict[str, str]:
        """The variables of docs/configuration.md that point every process at this stack."""
        opts = self.options
        env = {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": opts.namespace,
            "TRIP_TASK_QUEUE": opts.task_queue,
            "ORCHESTRATOR_ADDR": self.addresses["api"],
        }
        for name in SERVICES:
            key = name.upper()
            # Every replica: the worker spreads its calls over them (orchestrator.channels).
            env[f"{key}_SVC_ADDR"] = ",".join(self.instance_addresses(name))
            db = os.environ.get(f"{key}_DB") if opts.use_env_dbs else None
            env[f"{key}_DB"] = db or str(opts.state_dir / f"{name}.db")
            if opts.scale.replicas(name) > 1 and not env[f"{key}_DB"].startswith("postgres"):
                if opts.postgres_dsn is None:
                    raise ValueError(f"{opts.scale.replicas(name)} {name} replicas need a PostgreSQL DSN")
                env[f"{key}_DB"] = opts.postgres_dsn  # replicas share one database (schema per service)
        secure = self.secure.env() if self.secure is not None else {}
        return {**env, **secure, **opts.env}

    def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ChildProcess:
        opts = self.options
        log_path = opts.log_dir / f"{name}.log" if opts.log_dir is not None else None
        env = self.child_env() if env is None else env
        if self.observability is not None:
            env = {**env, **self.observability.env(name)}
        return ChildProcess(name, argv, env=env, cwd=ROOT, echo=opts.echo, log_path=log_path)

    async def _start_ready(self, child: ChildProcess, probe: Callable[[], Awaitable[T]]) -> T:
        """Start `child` and return what `probe` returns; fail early, with its exit code, if it dies first."""
        self.children.append(child)
        await child.start()
        ready = asyncio.ensure_future(asyncio.wait_for(probe(), self.options.ready_timeout))
        died = asyncio.ensure_future(child.wait())
        done, _ = await asyncio.wait({ready, died}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            died.cancel()
            return ready.result()
        ready.cancel()
        with contextlib.suppress(BaseException):
            await ready
        raise RuntimeError(f"{child.name} exited with code {died.result()} before it was ready")

    async def start(self) -> Stack:
        """Start every part in dependency order; on any failure stop what was started and raise."""
        try:
            await self._start_all()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _start_all(self) -> None:
        opts = self.options
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        if opts.secure:
            self.secure = SecureStackParts(opts.state_dir, opts.codec_port)
            codec_env = self.secure.codec_env(self.child_env())
            argv = [sys.executable, "-m", "orchestrator.codec_server"]
            self.children.append(self._child("codec", argv, env=codec_env))
            await self.children[-1].start()
        if self.observability is not None:
            await self.observability.start()
        if opts.temporal == "dev":
            server = opts.server or TemporalDevServer()
            server.port = opts.ports.temporal
            server.ui_port = opts.ports.ui
            server.namespace = opts.namespace
            server.search_attributes = {**trip_search_attributes(), **server.search_attributes}
            if server.db_filename is None:
                server.db_filename = opts.state_dir / "temporal.db"
            if self.secure is not None:
                server.ui_codec_endpoint = self.secure.codec_url
            client = await self._start_ready(
                self._child("temporal", server.argv(), env=server.env),
                lambda: wait_temporal_ready(self.temporal_address, opts.namespace, opts.ready_timeout),
            )
        else:
            client = await wait_temporal_ready(self.temporal_address, opts.namespace, opts.ready_timeout)
        env = self.child_env()
        if opts.postgres_dsn is not None and opts.postgres_dsn in env.values():
            await ensure_database(opts.postgres_dsn)
        await asyncio.gather(
            *(self._start_serving(name, f"{name}_svc", f"{name.upper()}_SVC_ADDR") for name in SERVICES)
        )
        for name in instance_names("worker", opts.scale.workers):
            worker = self._child(name, [sys.executable, "-m", "orchestrator.worker", *opts.worker_args])
            await self._start_ready(
                worker,
                lambda worker=worker: wait_for_pollers(
                    client, opts.task_queue, worker.pid, opts.ready_timeout
                ),  # type: ignore[misc]
            )
        await self._start_serving("api", "orchestrator.server", "ORCHESTRATOR_ADDR")
        await self._start_prometheus()

    async def _start_serving(self, part: str, module: str, variable: str) -> None:
        """Every replica of a gRPC server `part`, each told its own address in `variable`."""
        probe_tls = self.secure.probe_tls() if self.secure is not None else None
        await asyncio.gather(
            *(
                self._start_ready(
                    self._child(
                        name, [sys.executable, "-m", module], env={**self.child_env(), variable: address}
                    ),
                    lambda address=address: wait_grpc_serving(  # type: ignore[misc]
                        address, self.options.ready_timeout, tls_settings=probe_tls
                    ),
                )
                for name, address in self.instances[part]
            )
        )

    async def _start_prometheus(self) -> None:
        """With observability on and Debian's prometheus installed, scrape the stack."""
        observability = self.observability
        binary = observability.prometheus_binary() if observability is not None else None
        if observability is None or binary is None or not self.options.prometheus:
            return
        await self._start_ready(
            ChildProcess(
                "prometheus", observability.prometheus_argv(binary), env={}, cwd=ROOT, echo=None,
                log_path=self.options.state_dir / "prometheus" / "prometheus.log",
            ),
            lambda: observability.wait_prometheus_ready(self.options.ready_timeout),
        )  # fmt: skip
        self.prometheus = True

    async def stop(self) -> dict[str, int | None]:
        """Stop the children newest first (API before worker before services before Temporal)."""
        codes: dict[str, int | None] = {}
        for child in reversed(self.children):
            codes[child.name] = await child.stop()
        self.children.clear()
        if self.observability is not None:
            await self.observability.stop()
        return codes

    async def wait_any_exit(self) -> ChildProcess:
        """Return the first child that exits on its own."""
        waits = {asyncio.ensure_future(child.wait()): child for child in self.children}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[next(iter(done))]

    async def __aenter__(self) -> Stack:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def describe(self) -> str:
        """Every address a user needs, one per line."""
        more = {part: "".join(f", {a}" for a in self.instance_addresses(part)[1:]) for part in self.instances}
        lines = [
            f"  TripService API   {self.addresses['api']}"
            + ("  (TLS, below)" if self.secure else f"  (grpcurl -plaintext {self.addresses['api']} list)")
            + more["api"],
            f"  flight service    {self.addresses['flight']}{more['flight']}",
            f"  hotel service     {self.addresses['hotel']}{more['hotel']}",
            f"  cab service       {self.addresses['cab']}{more['cab']}",
            f"  Temporal          {self.temporal_address}   namespace {self.options.namespace}, "
            f"task queue {self.options.task_queue}"
            + (f", {self.options.scale.workers} workers" if self.options.scale.workers > 1 else ""),
        ]
        if self.ui_url:
            lines.append(f"  Temporal Web UI   {self.ui_url}")
        if self.secure is not None:
            lines += self.secure.describe(self.addresses["api"])
        if self.observability is not None:
            lines += self.observability.describe(self.prometheus)
        return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--temporal",
        choices=["dev", "external"],
        default=os.environ.get("STACK_TEMPORAL", "dev"),
        help="start a dev server, or use the one at TEMPORAL_ADDRESS [env STACK_TEMPORAL]",
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=int(os.environ.get("STACK_UI_PORT") or StackPorts.ui or 0),
        help="port of the dev server's Web UI; 0: no UI (default 8233) [env STACK_UI_PORT]",
    )
    parser.add_argument("--state-dir", type=Path, default=ROOT / "var", help="databases (default var/)")
    parser.add_argument("--log-dir", type=Path, default=None, help="also write each child's log here")
    scale = parser.add_argument_group("scale-out (scripts/stack_scale.py)")
    scale.add_argument(
        "--replicas",
        type=parse_replicas,
        default=parse_replicas(os.environ.get("STACK_REPLICAS", "1")),
        help="replicas per booking service: N, or flight=N,hotel=N,cab=N; more than one runs the "
        "service on PostgreSQL [env STACK_REPLICAS]",
    )
    scale.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("STACK_WORKERS", "1")),
        help="workers [env STACK_WORKERS]",
    )
    scale.add_argument(
        "--apis",
        type=int,
        default=int(os.environ.get("STACK_APIS", "1")),
        help="API servers [env STACK_APIS]",
    )
    scale.add_argument(
        "--postgres-dsn",
        default=os.environ.get("STACK_POSTGRES_DSN", DEFAULT_POSTGRES_DSN),
        help="database (created if missing) of services with several replicas, unless their *_DB is "
        f"a DSN (default {DEFAULT_POSTGRES_DSN}) [env STACK_POSTGRES_DSN]",
    )
    parser.add_argument(
        "--secure",
        action="store_true",
        default=flags.env_switch(parser, "--secure", "STACK_SECURE", os.environ),
        help="mutual TLS, JWT callers, encrypted payloads, codec server [env STACK_SECURE=1]",
    )
    parser.add_argument(
        "--observe",
        action=argparse.BooleanOptionalAction,
        default=flags.env_switch(parser, "--observe", "STACK_OBSERVE", os.environ),
        help="traces, metrics, the worker's health and Prometheus (docs/operations.md) [env STACK_OBSERVE]",
    )
    return parser.parse_args(argv)


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# Where `make up` and its clients read each part's address from.
ADDRESS_VARIABLES = {
    "api": "ORCHESTRATOR_ADDR",
    "flight": "FLIGHT_SVC_ADDR",
    "hotel": "HOTEL_SVC_ADDR",
    "cab": "CAB_SVC_ADDR",
    "temporal": "TEMPORAL_ADDRESS",
}


def running_addresses() -> dict[str, str]:
    """Where the stack `make up` runs listens: the *_ADDR variables, else the default ports (StackPorts)."""
    defaults = StackPorts()
    return {
        name: os.environ.get(variable) or f"localhost:{getattr(defaults, name)}"
        for name, variable in ADDRESS_VARIABLES.items()
    }


def ports_from_env() -> StackPorts:
    """The default ports (StackPorts), moved by the usual *_ADDR variables if they are set."""
    return StackPorts(**{name: _port_of(address) for name, address in running_addresses().items()})


async def run_foreground(args: argparse.Namespace) -> int:
    """Start, print the addresses, and wait for a signal or a child that dies."""
    ports = ports_from_env()
    ports.ui = args.ui_port or None
    options = StackOptions(
        ports=ports,
        state_dir=args.state_dir,
        temporal=args.temporal,
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        task_queue=os.environ.get("TRIP_TASK_QUEUE", "trip-booking"),
        echo=sys.stdout,
        log_dir=args.log_dir,
        use_env_dbs=True,
        scale=Scale(**args.replicas, workers=args.workers, apis=args.apis),
        postgres_dsn=args.postgres_dsn,
        secure=args.secure,
        codec_port=_port_of(os.environ.get("TRIP_CODEC_ADDR", f"localhost:{DEFAULT_CODEC_PORT}")),
        observe=ObservePorts() if args.observe else None,
    )
    stack = Stack(options)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    starting = asyncio.ensure_future(stack.start())
    stop_wait = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        print("stack: stopping before start-up finished", flush=True)
        starting.cancel()
        with contextlib.suppress(BaseException):
            await starting
        return 0
    stop_wait.cancel()
    if starting.exception() is not None:
        print(f"stack: start-up failed: {starting.exception()}", file=sys.stderr, flush=True)
        return 1
    print("stack: ready (Ctrl-C stops everything)\n" + stack.describe(), flush=True)
    exited = asyncio.ensure_future(stack.wait_any_exit())
    stop_wait = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({exited, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if exited.done():
        child = exited.result()
        print(f"stack: {child.name} exited unexpectedly (code {child.process and child.process.returncode})",
              file=sys.stderr, flush=True)  # fmt: skip
        code = 1
    else:
        exited.cancel()
    print("stack: stopping", flush=True)
    codes = await stack.stop()
    print("stack: stopped (" + ", ".join(f"{name} {rc}" for name, rc in codes.items()) + ")", flush=True)
    return code


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.exit(asyncio.run(run_foreground(args)))


if __name__ == "__main__":
    main()

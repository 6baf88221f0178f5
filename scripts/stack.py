"""`make up`: the whole trip-booking stack in the foreground; Ctrl-C stops it cleanly.

Starts a Temporal dev server (or, only with `--temporal external` or
STACK_TEMPORAL=external, uses the Temporal at TEMPORAL_ADDRESS), the flight, hotel
and cab services, the orchestrator worker and the TripService API, each after
the one before it is healthy, and prints every address. SIGINT or SIGTERM stops
the children newest first and exits 0. `Stack` is the same thing as a library,
for the demo, the benchmark and tests, on any ports (scripts/stack_ports.py); the
command line is scripts/stack_cli.py.

    python -m scripts.stack                         # everything, state in var/
    python -m scripts.stack --temporal external     # use Temporal at TEMPORAL_ADDRESS
    python -m scripts.stack --replicas 2 --workers 2 --apis 2   # scaled out (scripts/stack_scale.py)
    python -m scripts.stack --secure                # mutual TLS, JWT, payload codec (docs/security.md)
    STACK_OBSERVE=1 python -m scripts.stack         # with traces, metrics, health, Prometheus
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from scripts.postgres_admin import ensure_database
from scripts.stack_health import wait_for_pollers, wait_grpc_serving
from scripts.stack_observe import Observability
from scripts.stack_options import StackOptions
from scripts.stack_ports import StackPorts
from scripts.stack_process import ChildProcess
from scripts.stack_scale import instance_names, instance_ports
from scripts.stack_secure import SecureStackParts
from scripts.stack_temporal import ROOT, TemporalDevServer, trip_search_attributes, wait_temporal_ready

__all__ = ["Stack", "StackOptions", "StackPorts"]  # the last two: scripts/stack_options.py, stack_ports.py

SERVICES = ("flight", "hotel", "cab")
T = TypeVar("T")


class Stack:
    """The running stack; `async with Stack(options) as stack:` starts it and always stops it."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.children: list[ChildProcess] = []
        self.temporal_address = self._temporal_address()
        ports, count = options.ports, options.scale.count
        self.instances: dict[str, list[tuple[str, str]]] = {
            part: list(
                zip(
                    instance_names(part, count(part)),
                    (f"{options.host}:{p}" for p in instance_ports(first, count(part), ports.step)),
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
        self._fixed_env: dict[str, dict[str, str]] = {}  # children that do not take child_env()
        self._serving: dict[str, tuple[str, str]] = {}  # server child -> (address variable, address)

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
        host = self.options.host
        return {
            "api": f"{host}:{ports.api}",
            "flight": f"{host}:{ports.flight}",
            "hotel": f"{host}:{ports.hotel}",
            "cab": f"{host}:{ports.cab}",
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
            env[f"{key}_DB"] = db or opts.databases.get(name) or str(opts.state_dir / f"{name}.db")
            if opts.scale.replicas(name) > 1 and not env[f"{key}_DB"].startswith("postgres"):
                if opts.postgres_dsn is None:
                    raise ValueError(f"{opts.scale.replicas(name)} {name} replicas need a PostgreSQL DSN")
                env[f"{key}_DB"] = opts.postgres_dsn  # replicas share one database (schema per service)
        secure = self.secure.env() if self.secure is not None else {}
        return {**env, **secure, **opts.env}

    def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ChildProcess:
        opts = self.options
        log_path = opts.log_dir / f"{name}.log" if opts.log_dir is not None else None
        if env is not None:
            self._fixed_env[name] = env
        return ChildProcess(name, argv, env=self._env_of(name), echo=opts.echo, log_path=log_path)

    def _env_of(self, name: str) -> dict[str, str]:
        """A child's environment: the stack's (or its own fixed one), its address, its extras."""
        env = self._fixed_env[name] if name in self._fixed_env else self.child_env()
        if name in self._serving:  # a server is told its own address
            variable, address = self._serving[name]
            env = {**env, variable: address}
        if self.observability is not None:
            env = {**env, **self.observability.env(name)}
        return {**env, **self.options.process_env.get(name, {})}

    def child(self, name: str) -> ChildProcess:
        """The child called `name` ("temporal", "flight", "worker", "api", "flight-2", ...)."""
        return next(child for child in self.children if child.name == name)

    def start_again(self, name: str) -> ChildProcess:
        """Start child `name` again once it has exited (a test's crash and recovery), with the
        stack's environment as it is now; it is not waited for."""
        child = self.child(name)
        child.env = self._env_of(name)
        return child.start()

    async def _start_ready(self, child: ChildProcess, probe: Callable[[], Awaitable[T]]) -> T:
        """Start `child` and return what `probe` returns; fail early, with its exit code, if it dies first."""
        self.children.append(child)
        child.start()
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
            self.children[-1].start()
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
        probe_tls = self.options.probe_tls
        if probe_tls is None and self.secure is not None:
            probe_tls = self.secure.probe_tls()
        self._serving.update({name: (variable, address) for name, address in self.instances[part]})
        await asyncio.gather(
            *(
                self._start_ready(
                    self._child(name, [sys.executable, "-m", module]),
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


if __name__ == "__main__":
    from scripts.stack_cli import main

    main()

"""Kill and restart the parts of a running `scripts.stack.Stack`, as `make chaos` does.

The stack is started the one usual way (scripts/stack.py); this only replaces a child: SIGKILL, then the
same command with the same environment (plus a service's fault variables, when set), the same log file,
and the same readiness probe the stack uses. The Temporal dev server comes back on its db file and port.
In a scaled stack each replica, worker and API is a child of its own (`flight-2`, `worker-2`, `api-2`),
killed and restarted alone; fault variables are set per replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass, field

from scripts.chaos_plan import part_of
from scripts.stack import SERVICES, Stack
from scripts.stack_health import wait_for_pollers, wait_grpc_serving
from scripts.stack_process import ChildProcess
from scripts.stack_scale import instance_names
from scripts.stack_temporal import wait_temporal_ready

READY_TIMEOUT = 90.0
STOP_GRACE = 30.0  # a server drains for its own grace period (10 s by default) before it exits


@dataclass
class ChaosStack:
    """The stack under faults: which child runs, which fault variables each service has now."""

    stack: Stack
    fault_env: dict[str, dict[str, str]] = field(default_factory=dict)  # service replica -> fault variables
    kills: dict[str, int] = field(default_factory=dict)  # SIGKILLs per child
    terms: dict[str, int] = field(default_factory=dict)  # graceful stops (SIGTERM) per child
    restarts: dict[str, int] = field(default_factory=dict)
    unexpected_exits: dict[str, int] = field(default_factory=dict)  # children that died on their own
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    spawned: list[ChildProcess] = field(default_factory=list)  # every process a restart started
    pid_names: dict[int, str] = field(default_factory=dict)  # every pid a child has had -> its name

    def __post_init__(self) -> None:
        self.pid_names.update({child.pid: child.name for child in self.stack.children if child.running})

    def names(self) -> list[str]:
        """Every child, in the order the stack starts them: Temporal, the replicas, workers, APIs."""
        stack = self.stack
        replicas = [name for service in SERVICES for name, _ in stack.instances[service]]
        workers = instance_names("worker", stack.options.scale.workers)
        return ["temporal", *replicas, *workers, *(name for name, _ in stack.instances["api"])]

    def lock(self, name: str) -> asyncio.Lock:
        return self.locks.setdefault(name, asyncio.Lock())

    def child(self, name: str) -> ChildProcess:
        for child in self.stack.children:
            if child.name == name:
                return child
        raise KeyError(name)

    async def kill(self, name: str) -> None:
        """SIGKILL a child and reap it; a child that is already dead is left as it is."""
        child = self.child(name)
        if child.process is None or child.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGKILL)
        await child.wait()
        self.kills[name] = self.kills.get(name, 0) + 1

    async def restart(self, name: str) -> None:
        """Start the child again (a service with its current fault variables) and wait until it is ready.

        If it dies before it is ready (e.g. the worker while Temporal is down), it is started again
        until READY_TIMEOUT has passed.
        """
        old = self.child(name)
        env = dict(old.env)
        if part_of(name) in SERVICES:
            prefix = part_of(name).upper()
            for key in [k for k in env if k.startswith(f"{prefix}_FAULT_")]:
                del env[key]
            env.update(self.fault_env.get(name, {}))
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            new = ChildProcess(name, old.argv, env=env, cwd=old.cwd, echo=old.echo, log_path=old.log_path)
            index = self.stack.children.index(old)
            self.stack.children[index] = new
            new.start()
            self.pid_names[new.pid] = name
            self.spawned.append(new)
            self.restarts[name] = self.restarts.get(name, 0) + 1
            probe = asyncio.ensure_future(self._ready(name, new, deadline))
            died = asyncio.ensure_future(new.wait())
            done, _ = await asyncio.wait({probe, died}, return_when=asyncio.FIRST_COMPLETED)
            if probe in done:
                died.cancel()
                probe.result()
                return
            probe.cancel()
            await asyncio.wait({probe})  # unlike `await probe`, lets a cancel of this task through
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} keeps exiting (code {died.result()}) after a restart")
            old = new
            await asyncio.sleep(0.5)

    async def _ready(self, name: str, child: ChildProcess, deadline: float) -> None:
        timeout = max(1.0, deadline - time.monotonic())
        opts = self.stack.options
        if name == "temporal":
            await wait_temporal_ready(self.stack.temporal_address, opts.namespace, timeout)
        elif part_of(name) == "worker":
            client = await wait_temporal_ready(self.stack.temporal_address, opts.namespace, timeout)
            await wait_for_pollers(client, opts.task_queue, child.pid, max(1.0, deadline - time.monotonic()))
        else:
            await wait_grpc_serving(dict(self.stack.instances[part_of(name)])[name], timeout)

    async def kill_and_restart(self, name: str, down: float) -> None:
        async with self.lock(name):
            await self.kill(name)
            await asyncio.sleep(down)
            await self.restart(name)

    async def stop_and_restart(self, name: str, pause: float) -> None:
        """A graceful restart: SIGTERM, wait for the drain and exit (SIGKILL after the grace), start again."""
        async with self.lock(name):
            child = self.child(name)
            if child.running:
                await child.stop(grace=STOP_GRACE)
                self.terms[name] = self.terms.get(name, 0) + 1
            await asyncio.sleep(pause)
            await self.restart(name)

    async def set_faults(self, replica: str, env: dict[str, str]) -> None:
        """Restart a service replica with these fault variables (empty: none); a kill and a restart."""
        async with self.lock(replica):
            if env:
                self.fault_env[replica] = env
            else:
                self.fault_env.pop(replica, None)
            await self.kill(replica)
            await self.restart(replica)

    async def stop_strays(self) -> None:
        """SIGKILL any process a restart started that the stack no longer lists (none, unless a bug)."""
        for child in self.spawned:
            if child.process is not None and child.running and child not in self.stack.children:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.wait()

    async def revive(self) -> list[str]:
        """Restart every child that is not running (died on its own, or a restart failed): in stack order."""
        revived: list[str] = []
        for name in self.names():
            async with self.lock(name):
                # Looked up under the lock: a restart in another lane replaces the child object.
                if self.child(name).running:
                    continue
                self.unexpected_exits[name] = self.unexpected_exits.get(name, 0) + 1
                await self.restart(name)
                revived.append(name)
        return revived

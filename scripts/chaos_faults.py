"""The fault injector of a chaos run: plays the seeded fault sequence against the running stack until
told to stop, then leaves every part running with no fault variables set.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scripts.chaos_plan import (
    KILL_API,
    KILL_NODE,
    KILL_SERVICE,
    KILL_TEMPORAL,
    KILL_TEMPORAL_AND_WORKER,
    KILL_WORKER,
    RESTART_API,
    RESTART_SERVICE,
    SERVICE_FAULTS,
    FaultEvent,
)
from scripts.chaos_stack import ChaosStack


@dataclass
class FaultLog:
    """Every fault injected: when (seconds from the start), what, and whether its restart worked."""

    started: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)
    scaled: bool = False  # several replicas, workers or APIs: each entry names the processes hit

    def add(self, event: FaultEvent, began: float, error: str = "") -> None:
        entry: dict[str, Any] = {
            "at": round(began - self.started, 2),
            "kind": event.kind,
            "target": event.target,
            "down": event.down,
        }
        if event.kind == KILL_TEMPORAL_AND_WORKER:
            entry.update(order=event.order, between=event.between)
        if event.kind == SERVICE_FAULTS:
            entry.update(phase=event.phase, rate=event.rate)
        if event.again:
            entry.update(again=event.again, down_again=event.down_again)
        if event.kind == KILL_NODE:
            entry.update(service_down=event.service_down)
        if self.scaled:
            entry.update(processes=event.victims)
        if error:
            entry["error"] = error
        self.events.append(entry)

    def by_kind(self) -> dict[str, int]:
        counts = Counter(
            e["kind"] + (" (twice, seconds apart)" if e.get("again") else "") for e in self.events
        )
        lost = Counter(
            f"service_faults ({'lost replies' if e['phase'] == 'after' else 'lost requests'})"
            for e in self.events
            if e["kind"] == SERVICE_FAULTS
        )
        return {**{k: counts[k] for k in sorted(counts) if k != SERVICE_FAULTS}, **dict(sorted(lost.items()))}


class FaultInjector:
    def __init__(
        self,
        chaos: ChaosStack,
        lanes: list[Iterator[FaultEvent]],
        *,
        max_faults: int | None,
        log: FaultLog,
        say: Callable[[str], None],
    ) -> None:
        self._chaos = chaos
        self._lanes = lanes
        self._max = max_faults
        self._log = log
        self._say = say
        self._stop = asyncio.Event()
        self._holds: dict[str, asyncio.Task[None]] = {}

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Inject faults until stop() (or max_faults); then clear the fault variables and revive all."""
        try:
            await asyncio.gather(*(self._lane(events) for events in self._lanes))
        except asyncio.CancelledError:  # the run was interrupted: the stack is about to stop anyway
            for task in self._holds.values():
                task.cancel()
            raise
        await self._calm()

    async def _lane(self, events: Iterator[FaultEvent]) -> None:
        for event in events:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), event.gap)
            if self._stop.is_set() or (self._max is not None and len(self._log.events) >= self._max):
                return
            await self._inject(event)

    async def _inject(self, event: FaultEvent) -> None:
        began = time.monotonic()
        error = ""
        try:
            await self._apply(event)
        except Exception as exc:  # a restart that failed: noted, and revived below
            error = f"{type(exc).__name__}: {exc}"
            self._say(f"chaos: {event.kind} {event.target}: {error}")
        self._log.add(event, began, error)
        for name in await self._chaos.revive():
            self._say(f"chaos: {name} had died on its own; restarted")

    async def _apply(self, event: FaultEvent) -> None:
        chaos = self._chaos
        victims = event.victims  # child names: one replica, worker or API of a scaled stack
        if event.kind in (KILL_SERVICE, KILL_WORKER, KILL_API, KILL_TEMPORAL):
            await chaos.kill_and_restart(victims[0], event.down)
            if event.again:
                await asyncio.sleep(event.again)
                await chaos.kill_and_restart(victims[0], event.down_again)
        elif event.kind in (RESTART_SERVICE, RESTART_API):
            await chaos.stop_and_restart(victims[0], event.down)
        elif event.kind == SERVICE_FAULTS:
            replica = victims[0]
            hold = self._holds.pop(replica, None)
            if hold is not None:
                hold.cancel()
            await chaos.set_faults(replica, event.env())
            self._holds[replica] = asyncio.create_task(self._clear_later(replica, event.down))
        elif event.kind == KILL_TEMPORAL_AND_WORKER:
            first, second = victims
            worker = first if second == "temporal" else second
            async with chaos.lock("temporal"), chaos.lock(worker):
                await chaos.kill(first)
                await asyncio.sleep(event.between)
                await chaos.kill(second)
                await asyncio.sleep(event.down)
                await chaos.restart("temporal")
                await chaos.restart(worker)
        elif event.kind == KILL_NODE:
            temporal, worker, service = victims
            async with chaos.lock(temporal), chaos.lock(worker), chaos.lock(service):
                await asyncio.gather(chaos.kill(temporal), chaos.kill(worker), chaos.kill(service))
                await asyncio.sleep(event.down)
                await chaos.restart(temporal)
                await chaos.restart(worker)
                await asyncio.sleep(event.service_down)
                await chaos.restart(service)
        else:
            raise ValueError(f"unknown fault kind {event.kind!r}")

    async def _clear_later(self, replica: str, after: float) -> None:
        await asyncio.sleep(after)
        await self._chaos.set_faults(replica, {})

    async def _calm(self) -> None:
        """No more faults: cancel pending holds, restart faulty services clean, revive anything dead."""
        for task in self._holds.values():
            task.cancel()
        if self._holds:
            await asyncio.wait(self._holds.values())  # never raises the tasks' own errors
        for replica in self._chaos.names():
            if replica in self._chaos.fault_env:
                await self._chaos.set_faults(replica, {})
        for name in await self._chaos.revive():
            self._say(f"chaos: {name} had died on its own; restarted")

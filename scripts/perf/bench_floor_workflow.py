"""A throw-away saga shape for finding Temporal's floor: three no-op activities.

It has the real TripWorkflow's shape (three steps, an update that returns once the outcome is
known, then a durable wait) but no services, so what it costs is Temporal plus the Python SDK and
nothing else. FloorShape turns the shape levers the real saga cannot try without breaking its
contract: hotel and cab at once after the flight, and regular instead of local activities.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

STEP_TIMEOUT = timedelta(seconds=10)


@activity.defn
async def noop_step(name: str) -> str:
    """Stands in for one booking RPC."""
    return f"{name}-ok"


@dataclass(frozen=True)
class FloorShape:
    linger: bool = True  # after the steps, wait on a long timer like a confirmed trip (else end)
    parallel: bool = False  # hotel and cab at once after the flight (the real saga books in order)
    local: bool = True  # local activities, run inside the workflow task; False: regular activities


@workflow.defn
class FloorWorkflow:
    def __init__(self) -> None:
        self.outcome: str | None = None

    @workflow.run
    async def run(self, shape: FloorShape) -> str:
        results = [await self._step(shape, "flight")]
        if shape.parallel:
            results += await asyncio.gather(self._step(shape, "hotel"), self._step(shape, "cab"))
        else:
            for name in ("hotel", "cab"):
                results.append(await self._step(shape, name))
        self.outcome = ",".join(results)
        if shape.linger:
            await workflow.sleep(timedelta(days=7))
        return self.outcome

    @staticmethod
    async def _step(shape: FloorShape, name: str) -> str:
        if shape.local:
            return await workflow.execute_local_activity(noop_step, name, start_to_close_timeout=STEP_TIMEOUT)
        return await workflow.execute_activity(noop_step, name, start_to_close_timeout=STEP_TIMEOUT)

    @workflow.update
    async def outcome_update(self) -> str:
        await workflow.wait_condition(lambda: self.outcome is not None)
        assert self.outcome is not None
        return self.outcome

"""A throw-away saga shape for finding Temporal's floor: three no-op local activities.

It has the real TripWorkflow's shape (three local activities, an update that
returns once the outcome is known, then a durable wait) but no services, so
what it costs is Temporal plus the Python SDK and nothing else.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def noop_step(name: str) -> str:
    """Stands in for one booking RPC."""
    return f"{name}-ok"


@workflow.defn
class FloorWorkflow:
    """Three local activities; then either ends (linger=False) or waits on a long timer."""

    def __init__(self) -> None:
        self.outcome: str | None = None

    @workflow.run
    async def run(self, linger: bool) -> str:
        results = []
        for name in ("flight", "hotel", "cab"):
            results.append(
                await workflow.execute_local_activity(
                    noop_step, name, start_to_close_timeout=timedelta(seconds=10)
                )
            )
        self.outcome = ",".join(results)
        if linger:
            # Like a confirmed trip waiting for its check-out date.
            await workflow.sleep(timedelta(days=7))
        return self.outcome

    @workflow.update
    async def outcome_update(self) -> str:
        await workflow.wait_condition(lambda: self.outcome is not None)
        assert self.outcome is not None
        return self.outcome

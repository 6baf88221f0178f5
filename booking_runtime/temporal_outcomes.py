"""What a client is told when a call to Temporal fails: the one rule for the TripService API.

A call that Temporal did not answer (unreachable, a dropped connection's "transport error", a
deadline, a cancelled RPC, an overloaded or failing frontend) may or may not have acted: BookTrip
may have started its trip, CancelTrip may have cancelled it. The client is told UNAVAILABLE,
"send the same request again", which is safe because the same request_id rejoins the same trip
and CancelTrip joins a cancel under way. Never UNKNOWN, INTERNAL or CANCELLED for such an outcome.
A refusal Temporal did answer (the server is misconfigured: permission denied, namespace missing)
acted on nothing: INTERNAL, so nobody retries it forever. Refusals with a meaning for the trip
(NOT_FOUND, ALREADY_EXISTS) are the servicer's to handle before this rule applies.

The SDK retries a waiting update's long poll for as long as Temporal is down, so a BookTrip with
`wait_for_outcome` would hang until its client gave up. `watched` bounds such a call: it ends
UNAVAILABLE shortly before the caller's deadline, or once Temporal has stopped answering its health
check for a few seconds while the call waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import grpc
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from booking_runtime.errors import ServiceError, clip

# Temporal's answers that leave the outcome of the call unknown.
OUTCOME_UNKNOWN = frozenset(
    {
        RPCStatusCode.UNKNOWN,  # the SDK's "transport error": the connection dropped mid-call
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.ABORTED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.DATA_LOSS,
    }
)
RETRY_HINT = "the outcome is unknown: send the same request again"
# A waiting call checks Temporal's health every PROBE_SECONDS (one check shared by all calls), and
# gives up after PROBE_MISSES failed checks in a row.
PROBE_SECONDS = 2.0
PROBE_TIMEOUT = timedelta(seconds=1.5)
PROBE_MISSES = 2
# The answer must reach the caller before its deadline does.
DEADLINE_MARGIN_SECONDS = 0.5

T = TypeVar("T")


class TemporalError(ServiceError):
    """Temporal failed a call: UNAVAILABLE when its outcome is unknown, INTERNAL when it refused."""

    def __init__(self, status: str, message: str, *, unknown: bool) -> None:
        text = f"Temporal: {clip(message, 160)}"
        super().__init__(f"{text}; {RETRY_HINT}" if unknown else text, reason=f"TEMPORAL_{status}")
        self.code = grpc.StatusCode.UNAVAILABLE if unknown else grpc.StatusCode.INTERNAL


def temporal_error(error: BaseException) -> TemporalError | None:
    """The status for an exception from a Temporal client call; None if it is not Temporal's."""
    if isinstance(error, RPCError):
        return TemporalError(error.status.name, error.message, unknown=error.status in OUTCOME_UNKNOWN)
    if isinstance(error, RPCTimeoutOrCancelledError):
        # The SDK's own deadline or cancel of a call (an update's long poll, say).
        return TemporalError("TIMEOUT", str(error) or type(error).__name__, unknown=True)
    return None


class TemporalHealth:
    """Temporal's health check, run at most once per PROBE_SECONDS however many calls ask."""

    def __init__(self, check: Callable[[timedelta], Awaitable[bool]]) -> None:
        self._check = check
        self._checked_at = -PROBE_SECONDS
        self._healthy = True
        self._pending: asyncio.Future[bool] | None = None

    async def healthy(self) -> bool:
        if time.monotonic() - self._checked_at < PROBE_SECONDS:
            return self._healthy
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._run())
        return await asyncio.shield(self._pending)

    async def _run(self) -> bool:
        try:
            healthy = await self._check(PROBE_TIMEOUT)
        except Exception:  # unreachable, timed out, refused: not healthy
            healthy = False
        self._healthy, self._checked_at = healthy, time.monotonic()
        return healthy


async def watched(call: Awaitable[T], health: TemporalHealth, time_remaining: float | None) -> T:
    """`call`'s result, or UNAVAILABLE (outcome unknown) once Temporal stops answering or the
    caller's deadline (`time_remaining` seconds; None: none) is about to pass. The call is then
    cancelled: whatever it started goes on in Temporal, and the same request rejoins it."""
    task = asyncio.ensure_future(call)
    loop = asyncio.get_running_loop()
    deadline = None if time_remaining is None else loop.time() + time_remaining - DEADLINE_MARGIN_SECONDS
    misses = 0
    try:
        while True:
            wait = PROBE_SECONDS if deadline is None else min(PROBE_SECONDS, deadline - loop.time())
            if wait <= 0:
                raise TemporalError(
                    "DEADLINE_EXCEEDED", "no outcome before the caller's deadline", unknown=True
                )
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return task.result()
            if deadline is not None and loop.time() >= deadline:
                continue
            misses = 0 if await health.healthy() else misses + 1
            if misses >= PROBE_MISSES:
                raise TemporalError("UNAVAILABLE", "not reachable while the call was under way", unknown=True)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

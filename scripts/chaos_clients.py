"""The clients of a chaos run: each trip's BookTrip calls (with duplicates and a changed body), and its
CancelTrip, sent to the API as DESIGN.md tells a client to.

A client retries only UNAVAILABLE and DEADLINE_EXCEEDED, always with the same request, and keeps the
last answer of each logical call as its final answer, which the invariant checker then judges. All
clients share one channel per API; with several APIs each attempt goes to the next one in turn (so a
retry after an API died goes to another). A semaphore bounds how many trips are in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from tripbooking.trip.v1 import trip_pb2, trip_pb2_grpc

from scripts.chaos_plan import TripPlan, body_of

RETRY_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED"})
# Reconnect quickly once the API is back (the default backoff grows to two minutes).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
BOOK_TIMEOUT = 30.0  # per attempt; a BookTrip that waits for the outcome may sit through a compensation
CANCEL_TIMEOUT = 30.0


@dataclass
class Answer:
    """The final answer of one logical call, and the codes of the attempts before it."""

    method: str  # "BookTrip" or "CancelTrip"
    request_id: str
    body: str  # "primary", "duplicate", "changed"
    customer_id: str
    body_key: str  # chaos_plan.body_of of the request sent
    code: str = ""
    message: str = ""
    reason: str = ""  # ErrorInfo reason, if any
    status: str = ""  # the trip status the OK answer carried
    trip_id: str = ""
    attempts: list[str] = field(default_factory=list)
    started: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    @property
    def failure(self) -> bool:
        """An answer that tells the client its call did not happen (anything but OK or "try again")."""
        return self.code not in RETRY_CODES and self.code != "OK"

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "request_id": self.request_id,
            "body": self.body,
            "customer_id": self.customer_id,
            "code": self.code,
            "message": self.message[:300],
            "reason": self.reason,
            "status": self.status,
            "trip_id": self.trip_id,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
        }


def _reason(err: grpc.aio.AioRpcError) -> str:
    metadata: Any = err.trailing_metadata() or ()
    for key, value in metadata:
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


class TripClients:
    """Sends every trip of a plan; `answers` holds each logical call's final answer."""

    def __init__(
        self, addresses: Sequence[str], *, concurrency: int, rate: float, patience: float, seed: int
    ) -> None:
        self._channels = [grpc.aio.insecure_channel(a, options=CHANNEL_OPTIONS) for a in addresses]
        self._stubs: list[trip_pb2_grpc.TripServiceAsyncStub] = [
            trip_pb2_grpc.TripServiceStub(channel) for channel in self._channels
        ]
        self._turn = itertools.count()
        self._slots = asyncio.Semaphore(concurrency)
        self._patience = patience
        self._rate = rate  # trips started per second (0: as fast as the concurrency allows)
        self._rng = random.Random(f"clients-{seed}")
        self.answers: list[Answer] = []
        self.started = 0
        self.finished = 0

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close(None)

    def _stub(self) -> trip_pb2_grpc.TripServiceAsyncStub:
        """The API for the next attempt: every API in turn."""
        return self._stubs[next(self._turn) % len(self._stubs)]

    async def run(self, plans: list[TripPlan]) -> None:
        """Start trip i at i / rate seconds, to spread trips over the faults; `concurrency` at a time."""
        began = time.monotonic()
        await asyncio.gather(
            *(
                self._trip(plan, began + i / self._rate if self._rate else began)
                for i, plan in enumerate(plans)
            )
        )

    async def _trip(self, plan: TripPlan, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        async with self._slots:
            self.started += 1
            calls = [self._book(plan.request, "primary")]
            calls += [self._book(plan.request, "duplicate") for _ in range(plan.duplicates)]
            if plan.changed_body is not None:
                calls.append(self._book(plan.changed_body, "changed"))
            answers = await asyncio.gather(*calls)
            if plan.cancel_after is not None and any(a.ok for a in answers):
                await asyncio.sleep(plan.cancel_after)
                await self._cancel(plan)
            self.finished += 1

    async def _book(self, request: trip_pb2.BookTripRequest, body: str) -> Answer:
        answer = Answer(
            "BookTrip",
            request.request_id,
            body,
            request.customer_id,
            body_of(request.customer_id, request.flight, request.hotel),
        )

        async def call() -> None:
            reply = await self._stub().BookTrip(request, timeout=BOOK_TIMEOUT)
            answer.trip_id = reply.trip_id
            answer.status = trip_pb2.TripStatus.Name(reply.trip.status)

        await self._with_retries(answer, call)
        return answer

    async def _cancel(self, plan: TripPlan) -> Answer:
        answer = Answer(
            "CancelTrip",
            plan.request_id,
            "primary",
            plan.request.customer_id,
            body_of(plan.request.customer_id, plan.request.flight, plan.request.hotel),
        )
        request = trip_pb2.CancelTripRequest(trip_id=plan.trip_id, reason="chaos: customer cancelled")

        async def call() -> None:
            reply = await self._stub().CancelTrip(request, timeout=CANCEL_TIMEOUT)
            answer.trip_id = reply.trip_id
            answer.status = trip_pb2.TripStatus.Name(reply.status)

        await self._with_retries(answer, call)
        return answer

    async def _with_retries(self, answer: Answer, call: Callable[[], Awaitable[None]]) -> None:
        """Call until an answer other than UNAVAILABLE / DEADLINE_EXCEEDED, or patience runs out."""
        self.answers.append(answer)
        answer.started = time.monotonic()
        give_up = answer.started + self._patience
        delay = 0.2
        while True:
            try:
                await call()
                answer.code, answer.message, answer.reason = "OK", "", ""
            except grpc.aio.AioRpcError as err:
                answer.code = err.code().name
                answer.message = err.details() or ""
                answer.reason = _reason(err)
            answer.attempts.append(answer.code)
            if answer.code not in RETRY_CODES or time.monotonic() + delay > give_up:
                break
            await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
            delay = min(2.0, delay * 2)
        answer.seconds = time.monotonic() - answer.started

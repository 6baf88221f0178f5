"""The drain: what a server refuses, ends and keeps serving while it shuts down gracefully.

`CallTracker` counts the business calls in flight, so the server knows when it may stop; when the
drain begins it ends every open stream, and after the grace period it interrupts the calls left,
each with UNAVAILABLE (send the same request again). Health and reflection (`infrastructure`)
keep answering throughout. The per-call interceptor (booking_runtime/call_log.py) applies all this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import grpc

from booking_runtime.errors import ServiceError, Unavailable, abort
from booking_runtime.request_parsing import Unparsable, message_name, tolerant

# Calls that keep working while the server drains: health probes and reflection.
INFRASTRUCTURE_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


class InFlightCall(Protocol):
    """A call the tracker can end: its handler is cancelled and its client gets UNAVAILABLE."""

    def interrupt(self) -> None: ...


class CallTracker:
    """Knows the calls in flight, so a graceful shutdown knows when it may stop, and can end the
    streams (at once) and the calls that outlast the grace period with UNAVAILABLE."""

    def __init__(self) -> None:
        self.draining = False
        self._calls: set[InFlightCall] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._drained = asyncio.Event()  # set when the drain begins: open streams end on it
        # grpc's task of every call a handler took, until it has sent its reply: once none is left,
        # every such reply is on the wire and the process may close its connections. (A refusal of
        # the drain gate may be cut off: its client then sees a reset connection, UNAVAILABLE too.)
        self._open_tasks = 0
        self._all_sent = asyncio.Event()
        self._all_sent.set()

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def opened(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._open_tasks += 1
            self._all_sent.clear()
            task.add_done_callback(self._task_done)

    def _task_done(self, _: asyncio.Task[Any]) -> None:
        self._open_tasks -= 1
        if self._open_tasks == 0:
            self._all_sent.set()

    async def wait_all_sent(self) -> None:
        await self._all_sent.wait()

    def enter(self, call: InFlightCall) -> None:
        self._calls.add(call)
        self._idle.clear()

    def leave(self, call: InFlightCall) -> None:
        self._calls.discard(call)
        if not self._calls:
            self._idle.set()

    def start_draining(self) -> None:
        """Refuse new business calls and end every open stream (each ends with UNAVAILABLE)."""
        self.draining = True
        self._drained.set()

    def interrupt(self) -> int:
        """End the calls still in flight (the grace period is over) with UNAVAILABLE; how many."""
        calls = list(self._calls)
        for call in calls:
            call.interrupt()
        return len(calls)

    async def wait_drained(self) -> None:
        await self._drained.wait()

    async def wait_idle(self) -> None:
        await self._idle.wait()


def shutting_down(service: str) -> ServiceError:
    return Unavailable(f"{service} is shutting down: send the same request again", reason="SHUTTING_DOWN")


async def until_drained(
    replies: AsyncIterator[Any], tracker: CallTracker, service: str
) -> AsyncIterator[Any]:
    """A stream's replies until the server starts draining; then the stream ends with UNAVAILABLE.

    Each reply is awaited alongside the drain, so an idle stream (a WatchTrip long poll) does not
    hold the shutdown for the whole grace period. Streams are few, so the extra task is cheap.
    """
    drained = asyncio.ensure_future(tracker.wait_drained())
    following: asyncio.Future[Any] | None = None
    try:
        while True:
            following = asyncio.ensure_future(anext(replies))
            done, _ = await asyncio.wait({following, drained}, return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                raise shutting_down(service)
            try:
                reply = following.result()
            except StopAsyncIteration:
                return
            following = None
            yield reply
    finally:
        drained.cancel()
        if following is not None and not following.done():
            following.cancel()
            with contextlib.suppress(BaseException):
                await following
        aclose = getattr(replies, "aclose", None)
        if aclose is not None:
            await aclose()


def infrastructure(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """Health and reflection: served while draining and not logged, but bad bytes are bad input."""
    name = message_name(method)

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await abort(context, request.refusal(name), "grpc")

    if handler.unary_unary is not None:
        unary: Callable[..., Any] = handler.unary_unary

        async def unary_call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if type(request) is Unparsable:
                await refuse(request, context)
            return await unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_call, tolerant(handler.request_deserializer), handler.response_serializer
        )
    if handler.unary_stream is not None:
        stream: Callable[..., Any] = handler.unary_stream

        async def stream_call(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            if type(request) is Unparsable:
                await refuse(request, context)
            async for reply in stream(request, context):
                yield reply

        return grpc.unary_stream_rpc_method_handler(
            stream_call, tolerant(handler.request_deserializer), handler.response_serializer
        )
    if handler.stream_stream is not None:
        both: Callable[..., Any] = handler.stream_stream

        async def checked(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async for request in requests:
                if type(request) is Unparsable:
                    await refuse(request, context)
                yield request

        async def both_call(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async for reply in both(checked(requests, context), context):
                yield reply

        return grpc.stream_stream_rpc_method_handler(
            both_call, tolerant(handler.request_deserializer), handler.response_serializer
        )
    return handler

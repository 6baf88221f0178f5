"""Fault injection: slow down a share of calls, and fail them before or after the handler runs.

A fault before the handler never changes state: a request lost on its way in. A fault after it
replaces the reply of a call that did commit: a reply lost on its way out, the case where the
caller cannot know whether it booked. The saga must survive both (tests/orchestrator/test_chaos.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from booking_runtime.call_log import INFRASTRUCTURE_PREFIXES
from booking_runtime.config import FaultSettings

log = logging.getLogger("booking_runtime.faults")


def _delaying(name: str, delay: float) -> None:
    """Say that a call is being held (in flight, past the drain gate): tests wait for this line."""
    log.info("fault_latency", extra={"event": "fault_latency", "method": name, "seconds": delay})


class FaultInterceptor(grpc.aio.ServerInterceptor):
    """Adds latency to, and fails a share of, the configured business methods.

    Runs inside CallInterceptor, which caches the handler it wraps per method, so this one
    builds each wrapped handler once and keeps no cache of its own.
    """

    def __init__(self, settings: FaultSettings) -> None:
        self._settings = settings
        self._rng = random.Random()

    def _selected(self, method: str) -> bool:
        if method.startswith(INFRASTRUCTURE_PREFIXES):
            return False
        short = method.rsplit("/", 1)[-1]
        return not self._settings.methods or short in self._settings.methods

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or not self._selected(method):
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        settings = self._settings
        rng = self._rng
        name = method.rsplit("/", 1)[-1]
        delay = settings.latency_ms / 1000

        def hit() -> bool:
            return settings.rate > 0 and rng.random() < settings.rate

        async def after(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if delay > 0:
                _delaying(name, delay)
                await asyncio.sleep(delay)
            reply = await behavior(request, context)
            if hit():
                await context.abort(settings.code, f"injected fault in {name}: the reply was lost")
            return reply

        async def before(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if delay > 0:
                _delaying(name, delay)
                await asyncio.sleep(delay)
            if hit():
                await context.abort(settings.code, f"injected fault in {name}")
            return await behavior(request, context)

        return after if settings.phase == "after" else before

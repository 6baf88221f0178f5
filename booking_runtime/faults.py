"""Fault injection: slow down a share of calls, and fail them before or after the handler runs.

A fault before the handler never changes state: a request lost on its way in. A fault after it
replaces the reply of a call that did commit: a reply lost on its way out, the case where the
caller cannot know whether it booked. The saga must survive both (tests/orchestrator/test_chaos.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from booking_runtime.call_log import INFRASTRUCTURE_PREFIXES
from booking_runtime.config import FaultSettings


class FaultInterceptor(grpc.aio.ServerInterceptor):
    """Adds latency to, and fails a share of, the configured business methods."""

    def __init__(self, settings: FaultSettings, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._rng = rng or random.Random()
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    def _selected(self, method: str) -> bool:
        if method.startswith(INFRASTRUCTURE_PREFIXES):
            return False
        short = method.rsplit("/", 1)[-1]
        return not self._settings.methods or short in self._settings.methods

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        cached = self._cache.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or not self._selected(method):
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._cache[method] = wrapped
        return wrapped

    def _wrap(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        settings = self._settings

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if settings.latency_ms > 0:
                await asyncio.sleep(settings.latency_ms / 1000)
            name = method.rsplit("/", 1)[-1]
            if settings.phase == "after":
                reply = await behavior(request, context)
                if settings.rate > 0 and self._rng.random() < settings.rate:
                    await context.abort(settings.code, f"injected fault in {name}: the reply was lost")
                return reply
            if settings.rate > 0 and self._rng.random() < settings.rate:
                await context.abort(settings.code, f"injected fault in {name}")
            return await behavior(request, context)

        return call

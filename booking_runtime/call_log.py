"""The per-call interceptor every server runs: JSON access log, metrics, drain gate, ServiceError -> status.

One interceptor (not three) because each grpc.aio interceptor layer costs an await and a handler
rebuild per call; this one caches the wrapped handler per method so the hot path stays short.

What a client can act on (DESIGN.md) is settled here for every server: a request that does not
parse is INVALID_ARGUMENT (booking_runtime.request_parsing); a call that arrives while the server
drains, that the drain has to interrupt, or that fails in a way the server did not foresee, is
UNAVAILABLE (send the same request again), never UNKNOWN or CANCELLED.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from booking_runtime import tracing
from booking_runtime.call_drain import (
    INFRASTRUCTURE_PREFIXES,
    CallTracker,
    infrastructure,
    shutting_down,
    until_drained,
)
from booking_runtime.errors import MAX_DETAIL_CHARS, ServiceError, Unavailable, abort
from booking_runtime.grpc_metrics import CallMetrics
from booking_runtime.json_logging import configure_json_logging
from booking_runtime.request_parsing import Unparsable, message_name, tolerant
from booking_runtime.trip_ids import trip_id_of_booking_request

log = logging.getLogger("booking_runtime.calls")

FLUSH_SECONDS = 0.2
FLUSH_LINES = 2000


class JsonLines:
    """Buffered JSON-lines writer for the call log: one write syscall per batch, not per call.

    A line reaches stdout within FLUSH_SECONDS (or sooner under load); a SIGKILL may lose the
    last fraction of a second of call log, never any booking.
    """

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._scheduled = False

    def write(self, entry: dict[str, Any]) -> None:
        self._lines.append(json.dumps(entry, separators=(",", ":")))
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._lines:
            return
        stream = self._stream or sys.stdout
        stream.write("\n".join(self._lines) + "\n")
        stream.flush()
        self._lines.clear()


call_lines = JsonLines()

# Codes that mean the server failed (not the caller): their call lines are `error`, the rest `info`.
SERVER_FAULTS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS})
TripIdOf = Callable[[Any], "str | None"]


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Logs each call as one JSON line, refuses new business calls while draining, maps ServiceError."""

    def __init__(
        self,
        service: str,
        domain: str,
        tracker: CallTracker,
        *,
        log_calls: bool = True,
        metrics: CallMetrics | None = None,
        trip_id_of: TripIdOf | None = None,
    ) -> None:
        self._service = service
        self._domain = domain
        self._tracker = tracker
        self._log_calls = log_calls
        self._metrics = metrics
        self._trip_id_of = trip_id_of or trip_id_of_booking_request
        self._traced = tracing.active() is not None
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        cached = self._cache.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        if method.startswith(INFRASTRUCTURE_PREFIXES):
            wrapped = infrastructure(method, handler)
        else:
            wrapped = self._wrap(method, handler)
        self._cache[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(method, handler.unary_stream),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler

    def _unary(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        name = message_name(method)

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with _Call(self, method, request, context):
                if type(request) is Unparsable:
                    raise request.refusal(name)
                return await behavior(request, context)

        return call

    def _server_stream(self, method: str, behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        name = message_name(method)
        tracker = self._tracker

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with _Call(self, method, request, context):
                if type(request) is Unparsable:
                    raise request.refusal(name)
                async for reply in until_drained(behavior(request, context), tracker, self._service):
                    yield reply

        return call

    async def _gate(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        if self._tracker.draining:
            await abort(context, shutting_down(self._service), self._domain)

    def _log(self, method: str, request: Any, code: grpc.StatusCode, seconds: float) -> None:
        entry: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": "error" if code in SERVER_FAULTS else "info",
            "service": self._service,
            "method": method,
            "code": code.name,
            "duration_ms": round(seconds * 1000, 3),
        }
        trip_id = self._trip_id_of(request)
        if trip_id:
            entry["trip_id"] = trip_id
        key = getattr(request, "idempotency_key", None)
        if key:
            entry["idempotency_key"] = key[:MAX_DETAIL_CHARS]
        if self._traced:
            trace_id = tracing.current_trace_id()
            if trace_id:
                entry["trace_id"] = trace_id
        call_lines.write(entry)


class _Call:
    """One business call: drain gate, in-flight count, ServiceError -> status, and its log line.

    A plain class rather than @asynccontextmanager: it runs on every call, and this costs less.
    """

    __slots__ = ("_context", "_entered", "_interrupted", "_method", "_owner", "_request", "_started", "_task")

    def __init__(
        self, owner: CallInterceptor, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        self._owner = owner
        self._method = method
        self._request = request
        self._context = context
        self._started = time.perf_counter()
        self._entered = False
        self._interrupted = False
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> _Call:
        try:
            await self._owner._gate(self._context)
        except BaseException as exc:  # refused while draining: still logged
            self._finish(_code_of(self._context, exc))
            raise
        self._task = asyncio.current_task()
        self._owner._tracker.opened(self._task)
        self._owner._tracker.enter(self)
        self._entered = True
        return self

    def interrupt(self) -> None:
        """The drain ends this call: its handler is cancelled and the client gets UNAVAILABLE."""
        self._interrupted = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        code = grpc.StatusCode.OK
        try:
            if exc is None:
                return
            error = self._error_for(exc)
            if error is not None:
                code = error.code
                await abort(self._context, error, self._owner._domain)
            code = _code_of(self._context, exc)
        finally:
            self._finish(code)

    def _error_for(self, exc: BaseException) -> ServiceError | None:
        """The status a client gets for `exc`: None when grpc already has it (abort, client cancel)."""
        if isinstance(exc, ServiceError):
            return exc
        if isinstance(exc, asyncio.CancelledError):
            if not self._interrupted:
                return None  # the client cancelled: nobody is listening
            if self._task is not None:
                self._task.uncancel()
            return shutting_down(self._owner._service)
        if isinstance(exc, grpc.aio.AbortError | GeneratorExit):
            return None
        if not isinstance(exc, Exception):
            return None
        log.error(
            "unexpected_error",
            extra={
                "service": self._owner._service,
                "event": "unexpected_error",
                "method": self._method,
                "error": repr(exc)[:500],
                "traceback": "".join(traceback.format_exception(exc))[-4000:],
            },
        )
        return Unavailable(
            f"{self._owner._service} failed while handling the call, so its outcome is unknown: "
            "send the same request again",
            reason="OUTCOME_UNKNOWN",
        )

    def _finish(self, code: grpc.StatusCode) -> None:
        owner = self._owner
        if self._entered:
            owner._tracker.leave(self)
        seconds = time.perf_counter() - self._started
        if owner._metrics is not None:
            owner._metrics.record(self._method, code, seconds)
        if owner._traced:
            tracing.mark_current_span(code)
        if owner._log_calls:
            owner._log(self._method, self._request, code, seconds)


def _code_of(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> grpc.StatusCode:
    """Best guess at the status an exception ends a call with."""
    if isinstance(exc, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    if isinstance(exc, grpc.aio.AbortError):
        code = context.code()
        return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.UNKNOWN


def configure_logging(level: int = logging.INFO) -> None:
    """Every other log record as a JSON line on stdout too (booking_runtime.json_logging)."""
    configure_json_logging(level)

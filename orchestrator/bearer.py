"""Client side of TRIP_AUTH=jwt: add `authorization: Bearer <token>` to every call on a channel.

Used by tripctl (`--token`, TRIP_TOKEN), the demo and the benchmark. Plain metadata rather than gRPC
call credentials, which grpcio only sends over TLS: a token on a plaintext localhost stack still works,
and over TLS it is just as protected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


def _with_token(metadata: Any, token: str) -> tuple[tuple[str, str | bytes], ...]:
    return (*(metadata or ()), ("authorization", f"Bearer {token}"))


class _ClientCallDetails(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, token: str) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = _with_token(base.metadata, token)
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """A blocking-channel interceptor: `grpc.intercept_channel(channel, BearerToken(token))`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(_ClientCallDetails(details, self._token), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(_ClientCallDetails(details, self._token), request)


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    """Per-call metadata for grpc.aio stubs: `stub.BookTrip(request, metadata=bearer.metadata(t))`."""
    return (("authorization", f"Bearer {token}"),) if token else ()


class _AioBearer:
    def __init__(self, token: str) -> None:
        self._token = token

    def _details(self, details: Any) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*_with_token(details.metadata, self._token)),
            details.credentials,
            details.wait_for_ready,
        )


class AioUnaryBearer(_AioBearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)


class AioStreamBearer(_AioBearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)


def aio_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    """The grpc.aio twins of BearerToken, one per call shape (a grpc.aio channel files each interceptor
    under its first matching shape only), or [] without a token: nothing on the call path."""
    if not token:
        return []
    return [AioUnaryBearer(token), AioStreamBearer(token)]

"""Business errors as exceptions, and how they become rich gRPC statuses.

Domain code raises a `ServiceError`; the server turns it into a status whose code, message,
`google.rpc.ErrorInfo` (reason, domain, metadata) and, for bad input, `google.rpc.BadRequest`
detail let a client (and the orchestrator's retry policy) tell refusals apart without parsing text.
Every string a status carries is clipped (`clip`), so no reply echoes unbounded input and a status
stays far below gRPC's 8 KiB header limit whatever a request held.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# UTF-8 bytes: the message travels percent-encoded in `grpc-message` (up to 3 bytes per byte) and
# again, with the details, base64-encoded in `grpc-status-details-bin`.
MAX_MESSAGE_CHARS = 256
MAX_DETAIL_CHARS = 128
SHOWN_CHARS = 40


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (on a character boundary), marked with an ellipsis."""
    if len(text) <= limit // 4 or len(text.encode()) <= limit:
        return text
    cut = text.encode()[: limit - 3].decode(errors="ignore")
    return cut + "\u2026"


def shown(value: str) -> str:
    """A value as a refusal quotes it: repr of its first SHOWN_CHARS characters."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return repr(value[:SHOWN_CHARS]) + f"... ({len(value)} characters)"


class ServiceError(Exception):
    """A refusal with a gRPC code and a machine-readable reason."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason: str = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field
        self.metadata: dict[str, str] = dict(metadata or {})
        if field is not None:
            self.metadata.setdefault("field", field)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason}: {self.message})"


class InvalidArgument(ServiceError):
    """Bad input; the message starts with the field: `InvalidArgument("seats", "must be ...")`."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, description: str, *, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{field}: {description}", field=field, metadata=metadata)
        self.description = description


class NotFound(ServiceError):
    """Something named in the request does not exist (a flight, a hotel, a city, a booking)."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(ServiceError):
    """The idempotency key was used before for a different request."""

    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    """The request is valid but the state forbids it: `FailedPrecondition("SOLD_OUT", "...")`."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        field: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, field=field, metadata=metadata)


def to_status(error: ServiceError, domain: str) -> grpc.Status:
    """The rich status for `error`: code, message, ErrorInfo and (bad input) BadRequest."""
    details: list[any_pb2.Any] = []
    metadata = {clip(k, MAX_DETAIL_CHARS): clip(v, MAX_DETAIL_CHARS) for k, v in error.metadata.items()}
    info = error_details_pb2.ErrorInfo(
        reason=clip(error.reason, MAX_DETAIL_CHARS), domain=domain, metadata=metadata
    )
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if isinstance(error, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=clip(error.field or "", MAX_DETAIL_CHARS),
                    description=clip(error.description, MAX_DETAIL_CHARS),
                )
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    message = clip(error.message, MAX_MESSAGE_CHARS)
    status = status_pb2.Status(code=_proto_code(error.code), message=message, details=details)
    return rpc_status.to_status(status)


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: ServiceError, domain: str) -> NoReturn:
    """End the call with the rich status for `error` (never returns)."""
    await context.abort_with_status(to_status(error, domain))
    raise AssertionError("abort_with_status returned")  # pragma: no cover - grpc always raises


def _proto_code(code: grpc.StatusCode) -> int:
    """grpc.StatusCode -> the google.rpc.Code number (they share numbering)."""
    value: int = code.value[0]
    return value


class Unavailable(ServiceError):
    """A dependency (the database) is not reachable right now: retry later."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class Aborted(ServiceError):
    """Contention (deadlock, lock timeout, serialization failure): retry the call."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"

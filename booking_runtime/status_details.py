"""Reading the rich status (google.rpc.Status) a server attached to a failed call.

The servers attach an ErrorInfo (reason such as SOLD_OUT) and, for bad input, a BadRequest to each
refusal (booking_runtime.errors). The orchestrator's activities and the tests read them back here,
through grpcio-status's `rpc_status.from_call`, rather than decoding `grpc-status-details-bin` by hand.
"""

from __future__ import annotations

from typing import TypeVar, cast

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

Detail = TypeVar("Detail", bound=Message)


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status of a failed call, or None when it carries none (or one that disagrees
    with the call's own code and message, which rpc_status refuses)."""
    try:
        # An AioRpcError answers code(), details() and trailing_metadata() as a grpc.Call does.
        status = rpc_status.from_call(cast(grpc.Call, error))
    except ValueError:
        return None
    return cast("status_pb2.Status | None", status)


def detail(error: grpc.aio.AioRpcError, kind: type[Detail]) -> Detail | None:
    """The first detail of type `kind` in the call's rich status, if any."""
    status = rich_status(error)
    for packed in status.details if status is not None else ():
        if packed.Is(kind.DESCRIPTOR):
            found = kind()
            packed.Unpack(found)
            return found
    return None


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason a service attached (SOLD_OUT, ALREADY_CANCELLED, ...); empty if none."""
    info = detail(error, error_details_pb2.ErrorInfo)
    return info.reason if info is not None else ""

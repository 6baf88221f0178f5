"""A service's refusal reaches the workflow as an ApplicationError whose type is the gRPC code and
whose message names the ErrorInfo reason, read with grpcio-status (booking_runtime.status_details)."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2

from booking_runtime import status_details
from booking_runtime.errors import FailedPrecondition, InvalidArgument, ServiceError, to_status
from orchestrator.activities import as_application_error


def _failed_call(error: ServiceError) -> grpc.aio.AioRpcError:
    """The AioRpcError a client gets when a server aborts with `error` (the server's own encoding)."""
    status = to_status(error, "flight.tripbooking")
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )


def test_a_refusal_carries_its_reason_into_the_activity_error() -> None:
    failed = _failed_call(FailedPrecondition("SOLD_OUT", "flight TB101 on 2027-06-01 has 0 seats left"))
    assert status_details.error_reason(failed) == "SOLD_OUT"
    raised = as_application_error(failed)
    assert raised.type == "FAILED_PRECONDITION"
    assert raised.message == "FAILED_PRECONDITION (SOLD_OUT): flight TB101 on 2027-06-01 has 0 seats left"


def test_bad_input_carries_the_field_in_a_bad_request_detail() -> None:
    bad = status_details.detail(
        _failed_call(InvalidArgument("seats", "must be 1 to 9")), error_details_pb2.BadRequest
    )
    assert bad is not None and bad.field_violations[0].field == "seats"


def test_a_call_without_details_or_with_a_status_that_disagrees_has_no_reason() -> None:
    bare = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down")
    assert status_details.rich_status(bare) is None
    assert as_application_error(bare).message == "UNAVAILABLE: down"
    status = to_status(FailedPrecondition("SOLD_OUT", "no seats"), "flight.tripbooking")
    relabelled = grpc.aio.AioRpcError(  # e.g. a proxy rewrote the code but kept the details
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), "x"
    )
    assert status_details.error_reason(relabelled) == ""

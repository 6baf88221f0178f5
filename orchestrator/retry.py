"""The error table: which failures of a step are worth retrying, and how long to wait between tries.

Activities report a gRPC failure as an ApplicationError whose `type` is the status code name, so the
workflow can decide here without importing grpc. Pure functions only: this module runs in the sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

# Transient trouble: the call may succeed if tried again (CANCELLED shows up when a server shuts down).
RETRYABLE_CODES = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL", "UNKNOWN", "CANCELLED"}
)
# Business refusals: the service looked at the request and said no, so nothing was booked.
REFUSAL_CODES = frozenset({"FAILED_PRECONDITION", "NOT_FOUND", "INVALID_ARGUMENT", "ALREADY_EXISTS"})
# Our name for "the call did not finish within its start_to_close timeout".
TIMEOUT = "TIMEOUT"

INITIAL_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 10.0


@dataclass(frozen=True)
class Verdict:
    """What a failed call means for its step."""

    retryable: bool
    # True only when the service certainly holds nothing for the key (a refusal), so no compensation.
    certainly_unbooked: bool


def judge(error_type: str) -> Verdict:
    """Verdict for an ApplicationError type (a gRPC code name), TIMEOUT, or any other error type.

    Unknown types (a bug in an activity, a code outside the table) are retried like INTERNAL: the
    budget bounds them, and the step is compensated afterwards because its outcome is unknown.
    """
    if error_type in REFUSAL_CODES:
        return Verdict(retryable=False, certainly_unbooked=True)
    if error_type in RETRYABLE_CODES or error_type == TIMEOUT:
        return Verdict(retryable=True, certainly_unbooked=False)
    if error_type in {"UNIMPLEMENTED", "PERMISSION_DENIED", "UNAUTHENTICATED", "OUT_OF_RANGE", "DATA_LOSS"}:
        # A misconfiguration, not bad luck: retrying will not help; the outcome is still unknown.
        return Verdict(retryable=False, certainly_unbooked=False)
    return Verdict(retryable=True, certainly_unbooked=False)


def backoff_seconds(retry_number: int) -> float:
    """Delay before retry number `retry_number` (0-based): 0.2 s doubling up to MAX_BACKOFF_SECONDS."""
    return float(min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * (2 ** min(retry_number, 16))))


def describe_failure(err: FailureError) -> tuple[str, str]:
    """(error type for the retry table, message for last_error) of a failed local activity.

    A local activity's failure arrives either wrapped in an ActivityError or bare, depending on
    whether it was marked non-retryable (the activities no longer mark any, but recorded histories
    and running trips hold both shapes); both mean the same here. A cancelled call means the
    workflow itself is being cancelled: that propagates as asyncio.CancelledError.
    """
    cause: BaseException | None = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, CancelledError):
        raise asyncio.CancelledError(cause.message) from err
    if isinstance(cause, ApplicationError):
        return cause.type or "UNKNOWN", cause.message
    if isinstance(cause, ActivityTimeoutError):
        return TIMEOUT, "no answer within the attempt timeout"
    return "UNKNOWN", str(cause or err)

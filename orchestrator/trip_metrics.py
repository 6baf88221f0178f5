"""The trip counters and log lines TripWorkflow emits at its turning points; replay-safe, command-free.

Called from one-line hooks in orchestrator/workflows.py. Both outputs go through the workflow's own
handles: `workflow.metric_meter()` (counters on the worker's Temporal runtime, served on its
TRIP_METRICS_ADDR; nothing is recorded while a history replays) and `workflow.logger` (silent during
replay). Neither issues a command, so recorded histories replay unchanged and no `workflow.patched`
is needed. Counters (the meter adds `namespace`, `task_queue` and `workflow_type`):

- `trip_status_transitions_total{status}`: a trip entered CONFIRMED, COMPENSATING, FAILED, ...
- `trip_compensations_total{step}`: a booked (or maybe booked) step started being undone.
- `trip_step_attempts_total{step, action, outcome, reason}`: one call to a service; `action` is `book`
  or `cancel`, `outcome` the gRPC code name (`OK`, `UNAVAILABLE`, `FAILED_PRECONDITION`, ...) or
  `TIMEOUT`, `reason` the service's ErrorInfo reason when it gave one (`SOLD_OUT`, ...).
"""

from __future__ import annotations

import re

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from orchestrator.models import TripState, TripStatus

STATUS_TRANSITIONS = "trip_status_transitions_total"
COMPENSATIONS = "trip_compensations_total"
STEP_ATTEMPTS = "trip_step_attempts_total"
# orchestrator.activities writes a failure as "CODE (REASON): details" or "CODE: details".
_REASON = re.compile(r"[A-Z_]+ \(([A-Z0-9_]{1,64})\)")
_WORRYING_STATUSES = frozenset({TripStatus.COMPENSATING, TripStatus.FAILED})


def status_changed(state: TripState) -> None:
    """The trip just entered `state.status`."""
    status = state.status.name
    workflow.metric_meter().create_counter(
        STATUS_TRANSITIONS, "Trips entering each status (BOOKING is where every trip starts)."
    ).add(1, {"status": status})
    fields = {"trip_id": state.trip_id, "status": status}
    if state.failure_reason:
        fields["reason"] = state.failure_reason
    level = "warning" if state.status in _WORRYING_STATUSES else "info"
    getattr(workflow.logger, level)("trip %s", status, extra=fields)


def compensating(state: TripState, step: str) -> None:
    """Undoing `step` starts (it is retried until it succeeds)."""
    workflow.metric_meter().create_counter(
        COMPENSATIONS, "Steps that compensation started to undo, by step."
    ).add(1, {"step": step})
    workflow.logger.warning("compensating %s", step, extra={"trip_id": state.trip_id, "step": step})


def attempt(state: TripState, step: str, action: str, error: FailureError | None) -> None:
    """One call of `step` (`action` "book" or "cancel") ended: `error` None means it succeeded."""
    outcome, reason = ("OK", "") if error is None else outcome_of(error)
    workflow.metric_meter().create_counter(
        STEP_ATTEMPTS, "Calls to the booking services, by step, action, outcome code and reason."
    ).add(1, {"step": step, "action": action, "outcome": outcome, "reason": reason})
    attempts = state.step(step).attempts
    fields = {
        "trip_id": state.trip_id,
        "step": step,
        "action": action,
        "outcome": outcome,
        "attempt": attempts,
    }
    if error is None:
        workflow.logger.info("%s %s: OK", action, step, extra=fields)
    else:
        workflow.logger.warning(
            "%s %s: %s",
            action,
            step,
            state.step(step).last_error or outcome,
            extra={**fields, "reason": reason},
        )


def outcome_of(error: FailureError) -> tuple[str, str]:
    """(outcome code, ErrorInfo reason or "") of a failed local activity, as the retry table sees it."""
    cause: BaseException | None = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError):
        match = _REASON.match(cause.message)
        return cause.type or "UNKNOWN", match.group(1) if match else ""
    if isinstance(cause, ActivityTimeoutError):
        return "TIMEOUT", ""
    return "UNKNOWN", ""

"""Every recorded TripWorkflow history must replay on today's workflow code.

A trip lives for weeks, so a worker running new code replays histories written by old code. A change
that alters the commands a trip issues without `workflow.patched(...)` fails here. To add histories
after an intended change, see tests/orchestrator/record_histories.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from orchestrator.worker import workflow_runner
from orchestrator.workflows import (
    PATCH_CANCEL_RECORDED_FIRST,
    PATCH_COMPENSATE_EVERY_STEP,
    PATCH_REFUSAL_AFTER_RETRY,
    PATCH_STABLE_DECISIONS,
    TripWorkflow,
)
from tests.orchestrator.stack import HISTORIES as HISTORY_DIR

HISTORIES = {path.stem: path.read_text() for path in sorted(HISTORY_DIR.glob("*.json"))}


def test_every_scenario_is_recorded_including_both_sides_of_each_patch() -> None:
    """`NAME.json` is recorded by today's code; `NAME_vN.json` by the code before patch N:
    1 compensate-refusal-after-retry, 2 compensate-every-step, 3 cancel-recorded-before-undo,
    4 decide-after-a-timer (orchestrator/workflows.py)."""
    today = {
        "completed",
        "failed_compensated",
        "refused_after_retry",
        "cancelled",
        "cancelled_mid_step",
        "lost_task",
        "lost_task_cancelled",
    }
    before_patch_1 = {"refused_after_retry_v1"}
    before_patch_2 = {f"{name}_v2" for name in today - {"completed"}}
    before_patch_3 = {"cancelled_v3", "lost_task_cancelled_v3"}
    before_patch_4 = {f"{name}_v4" for name in today}
    # Recorded live, not by record_histories.py: a GetTrip query made the SDK core complete a workflow
    # task while a step's call was under way, so the flight's failure is recorded in one task and
    # seen by the workflow in the next (workflows.py, `_checkpoint`); then the step gave up.
    live = {"split_task"}
    everything = today | before_patch_1 | before_patch_2 | before_patch_3 | before_patch_4 | live
    assert set(HISTORIES) >= everything


def _patches(history: str) -> list[str]:
    """The patch ids a history records, in order."""
    found = []
    for event in json.loads(history)["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            data = marker["details"]["patch-data"]["payloads"][0]["data"]
            found.append(json.loads(base64.b64decode(data))["id"])
    return found


def test_the_patch_ids_are_the_ones_the_histories_hold() -> None:
    recorded = {patch for history in HISTORIES.values() for patch in _patches(history)}
    patches = {
        PATCH_REFUSAL_AFTER_RETRY,
        PATCH_COMPENSATE_EVERY_STEP,
        PATCH_CANCEL_RECORDED_FIRST,
        PATCH_STABLE_DECISIONS,
    }
    assert patches == recorded
    assert recorded == {
        "compensate-refusal-after-retry",
        "compensate-every-step",
        "cancel-recorded-before-undo",
        "decide-after-a-timer",
    }


@pytest.mark.parametrize("name", ["completed", "failed_compensated", "cancelled", "lost_task_cancelled"])
def test_a_trip_started_today_records_one_patch_in_its_first_task(name: str) -> None:
    """Today's trips decide every patch up front: a patch asked for later, right after a step's
    result, is what a query can move to another workflow task (workflows.py, `_checkpoint`)."""
    assert _patches(HISTORIES[name]) == [PATCH_STABLE_DECISIONS]
    events = json.loads(HISTORIES[name])["events"]
    first_completed = next(
        i for i, e in enumerate(events) if e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
    )
    first_marker = next(
        i
        for i, e in enumerate(events)
        if e.get("markerRecordedEventAttributes", {}).get("markerName") == "core_patch"
    )
    assert first_completed < first_marker
    assert all(
        e["eventType"] != "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
        for e in events[first_completed + 1 : first_marker]
    ), "the patch marker must be among the first task's commands"


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_history_replays_cleanly(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", HISTORIES[name])
    replayer = Replayer(workflows=[TripWorkflow], workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"

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
    TripWorkflow,
)
from tests.orchestrator.stack import HISTORIES as HISTORY_DIR

HISTORIES = {path.stem: path.read_text() for path in sorted(HISTORY_DIR.glob("*.json"))}


def test_every_scenario_is_recorded_including_both_sides_of_each_patch() -> None:
    """`NAME.json` is recorded by today's code; `NAME_vN.json` by the code before patch N:
    1 compensate-refusal-after-retry, 2 compensate-every-step, 3 cancel-recorded-before-undo
    (orchestrator/workflows.py)."""
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
    assert set(HISTORIES) >= today | before_patch_1 | before_patch_2 | before_patch_3


def test_the_patch_ids_are_the_ones_the_histories_hold() -> None:
    recorded = set()
    for history in HISTORIES.values():
        for event in json.loads(history)["events"]:
            marker = event.get("markerRecordedEventAttributes", {})
            if marker.get("markerName") == "core_patch":
                data = marker["details"]["patch-data"]["payloads"][0]["data"]
                recorded.add(json.loads(base64.b64decode(data))["id"])
    assert {PATCH_REFUSAL_AFTER_RETRY, PATCH_COMPENSATE_EVERY_STEP, PATCH_CANCEL_RECORDED_FIRST} == recorded
    assert recorded == {
        "compensate-refusal-after-retry",
        "compensate-every-step",
        "cancel-recorded-before-undo",
    }


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_history_replays_cleanly(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", HISTORIES[name])
    replayer = Replayer(workflows=[TripWorkflow], workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"

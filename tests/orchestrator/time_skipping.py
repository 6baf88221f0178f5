"""What tests on the shared time-skipping server (conftest.py's `time_env`) must do when they end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle


async def let_trips_end(handles: Iterable[WorkflowHandle[Any, Any]], timeout: float = 60) -> None:
    """Await the end of every trip a test started, before its worker stops.

    The time-skipping server is shared by the whole session and skips time only while no workflow
    task is outstanding. A trip left with a timer to fire (a checkpoint, a hold) would, once its
    worker is gone, leave a task that nobody completes, and every later test that waits for time to
    pass would hang. A trip that does not end within `timeout` fails the test that started it.
    """
    for handle in handles:
        with contextlib.suppress(WorkflowFailureError):  # failed and cancelled trips end failed
            await asyncio.wait_for(handle.result(), timeout)

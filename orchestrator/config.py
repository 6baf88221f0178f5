"""Settings of the worker and the API: command-line flags, with the environment as defaults.

Every address and knob named in DESIGN.md is read from its environment variable, so a process started
by `make up`, a test or a container needs no flags; `--help` lists them all.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    temporal_address: str
    namespace: str
    task_queue: str
    flight_addr: str
    hotel_addr: str
    cab_addr: str
    orchestrator_addr: str
    step_budget_seconds: float
    attempt_timeout_seconds: float
    max_concurrent_workflow_tasks: int
    max_concurrent_local_activities: int
    connect_timeout_seconds: float


# (flag, env var, default, type, help)
_OPTIONS: list[tuple[str, str, str, type, str]] = [
    ("--temporal-address", "TEMPORAL_ADDRESS", "localhost:7233", str, "Temporal frontend host:port"),
    ("--namespace", "TEMPORAL_NAMESPACE", "default", str, "Temporal namespace"),
    ("--task-queue", "TRIP_TASK_QUEUE", "trip-booking", str, "task queue of TripWorkflow"),
    ("--flight-addr", "FLIGHT_SVC_ADDR", "localhost:50051", str, "flight service host:port"),
    ("--hotel-addr", "HOTEL_SVC_ADDR", "localhost:50052", str, "hotel service host:port"),
    ("--cab-addr", "CAB_SVC_ADDR", "localhost:50053", str, "cab service host:port"),
    ("--orchestrator-addr", "ORCHESTRATOR_ADDR", "localhost:50050", str, "TripService host:port"),
    (
        "--step-budget-seconds",
        "TRIP_STEP_BUDGET_SECONDS",
        "600",
        float,
        "how long a booking step may keep retrying before it counts as failed (carried into each trip)",
    ),
    (
        "--attempt-timeout-seconds",
        "TRIP_ATTEMPT_TIMEOUT_SECONDS",
        "10",
        float,
        "timeout of one call to a booking service (carried into each trip)",
    ),
    (
        "--max-concurrent-workflow-tasks",
        "TRIP_MAX_CONCURRENT_WORKFLOW_TASKS",
        "100",
        int,
        "workflow tasks the worker runs at once",
    ),
    (
        "--max-concurrent-local-activities",
        "TRIP_MAX_CONCURRENT_LOCAL_ACTIVITIES",
        "200",
        int,
        "booking calls the worker makes at once",
    ),
    (
        "--connect-timeout-seconds",
        "TRIP_CONNECT_TIMEOUT_SECONDS",
        "30",
        float,
        "how long to keep trying to reach Temporal at start-up",
    ),
]


def parse_settings(prog: str, description: str, argv: Sequence[str] | None = None) -> Settings:
    """Flags override the environment, which overrides the defaults."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for flag, env, default, kind, text in _OPTIONS:
        parser.add_argument(
            flag,
            type=kind,
            default=kind(os.environ.get(env, default)),
            help=f"{text} (env {env}, default {default})",
        )
    args = parser.parse_args(argv)
    settings = Settings(
        **{flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag, *_ in _OPTIONS}
    )
    if settings.step_budget_seconds <= 0 or settings.attempt_timeout_seconds <= 0:
        parser.error("--step-budget-seconds and --attempt-timeout-seconds must be positive")
    return settings

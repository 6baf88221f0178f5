"""Settings of the worker and the API: command-line flags, with the environment as defaults.

Every address and knob named in DESIGN.md is read from its environment variable, so a process started
by `make up`, a test or a container needs no flags; `--help` lists them all.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from booking_runtime import flags


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
    max_cached_workflows: int
    workflow_sandbox: bool
    temporal_tls: str
    temporal_tls_cert: str
    temporal_tls_key: str
    temporal_tls_ca: str
    temporal_api_key: str
    metrics_addr: str
    worker_build_id: str
    worker_deployment: str
    worker_promote: bool
    health_addr: str


# (flag, env var, default, type, help)
_OPTIONS: list[tuple[str, str, str, Callable[[str], Any], str]] = [
    # Temporal: empty means TEMPORAL_PROFILE's value (temporalio.envconfig), else localhost:7233 / default.
    ("--temporal-address", "TEMPORAL_ADDRESS", "", str, "Temporal frontend host:port"),
    ("--namespace", "TEMPORAL_NAMESPACE", "", str, "Temporal namespace"),
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
    (
        "--max-cached-workflows",
        "TRIP_MAX_CACHED_WORKFLOWS",
        "100",
        int,
        "trips the worker keeps in memory; confirmed trips sit idle for weeks, so a small cache "
        "bounds memory and an evicted trip is replayed from history when it wakes",
    ),
    (
        "--workflow-sandbox",
        "TRIP_WORKFLOW_SANDBOX",
        "off",
        flags.parse_switch,
        "run workflow code in Temporal's sandbox (on) or not (off: about 40%% less worker CPU; "
        "the workflow and replay tests always run it, so CI catches non-deterministic calls)",
    ),
    (
        "--temporal-tls",
        "TEMPORAL_TLS",
        "",
        flags.optional_switch,
        "connect to Temporal over TLS: on/off (empty: the profile's)",
    ),
    ("--temporal-tls-cert", "TEMPORAL_TLS_CLIENT_CERT_PATH", "", str, "client certificate (PEM), mutual TLS"),
    ("--temporal-tls-key", "TEMPORAL_TLS_CLIENT_KEY_PATH", "", str, "client private key (PEM), mutual TLS"),
    ("--temporal-tls-ca", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "", str, "CA (PEM) of a private Temporal"),
    ("--temporal-api-key", "TEMPORAL_API_KEY", "", str, "API key (e.g. Temporal Cloud); implies TLS"),
    (
        "--metrics-addr",
        "TRIP_METRICS_ADDR",
        "",
        str,
        "serve Prometheus /metrics on host:port (the SDK's metrics, the worker's trip_* counters, the "
        "API's grpc_server_*); empty: off",
    ),
    (
        "--health-addr",
        "TRIP_HEALTH_ADDR",
        "",
        str,
        "worker only: serve grpc.health.v1 on host:port, SERVING while its pollers run; empty: off",
    ),
    # Worker Deployment versioning (orchestrator/versioning.py); off without a build id.
    (
        "--worker-build-id",
        "TRIP_WORKER_BUILD_ID",
        "",
        str,
        "build id of this worker's version; empty: unversioned",
    ),
    ("--worker-deployment", "TRIP_WORKER_DEPLOYMENT", "trip-booking", str, "Worker Deployment name"),
    (
        "--worker-promote",
        "TRIP_WORKER_PROMOTE",
        "on",
        flags.parse_switch,
        "with a build id: make this version the deployment's current one at start-up "
        "(off: the operator does)",
    ),
]


def parse_settings(prog: str, description: str, argv: Sequence[str] | None = None) -> Settings:
    """Flags override the environment, which overrides the defaults."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for flag, env, default, kind, text in _OPTIONS:
        flags.env_option(parser, flag, env, default, text, os.environ, type=kind)
    args = parser.parse_args(argv)
    settings = Settings(**vars(args))
    if settings.step_budget_seconds <= 0 or settings.attempt_timeout_seconds <= 0:
        parser.error("--step-budget-seconds and --attempt-timeout-seconds must be positive")
    return settings

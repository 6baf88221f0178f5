"""Worker Deployment versioning: off unless TRIP_WORKER_BUILD_ID is set.

With a build id the worker polls as version `<TRIP_WORKER_DEPLOYMENT>.<build id>` of a Temporal
Worker Deployment, and every trip it runs is AUTO_UPGRADE: a running trip moves to the deployment's
current version at its next workflow task. So a trip that sleeps for weeks after CONFIRMED wakes on
the newest code, and `workflow.patched` in workflows.py remains what keeps its replay deterministic
(AUTO_UPGRADE does not pin a trip to the code that started it; PINNED would, but would keep every old
version running until its last trip ended, weeks later).

A version only receives tasks once it is the deployment's current version. By default the worker makes
its own version current as soon as the server has seen it poll, so a rolling update (Kubernetes,
compose) needs no extra step; with TRIP_WORKER_PROMOTE=off the operator does it, e.g. after a ramp:
`temporal worker deployment set-current-version --deployment-name trip-booking --build-id <id>`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import WorkerDeploymentConfig

log = logging.getLogger("orchestrator.versioning")


def deployment_config(deployment_name: str, build_id: str) -> WorkerDeploymentConfig | None:
    """The worker's versioning settings; None (unversioned, as before) without a build id."""
    if not build_id:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=deployment_name, build_id=build_id),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


async def make_current(client: Client, version: WorkerDeploymentVersion, timeout: float = 60.0) -> None:
    """Make `version` the deployment's current version, once the server knows it (its first poll)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace,
                    deployment_name=version.deployment_name,
                    build_id=version.build_id,
                    identity=client.identity,
                )
            )
            return
        except RPCError as err:  # not registered yet: the worker's first poll has not arrived
            if time.monotonic() > deadline:
                raise
            log.info("waiting for version %s to register: %s", version.to_canonical_string(), err)
            await asyncio.sleep(0.5)

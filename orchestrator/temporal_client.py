"""Connecting to Temporal the same way from the worker, the API and tripctl."""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.client import Client
from temporalio.service import RPCError

log = logging.getLogger("orchestrator.temporal")


async def connect(address: str, namespace: str, timeout: float = 30.0) -> Client:
    """Connect, retrying for `timeout` seconds: under `make up` Temporal may still be starting."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except (RuntimeError, RPCError, OSError) as err:
            if time.monotonic() + delay > deadline:
                raise RuntimeError(f"cannot reach Temporal at {address}: {err}") from err
            log.info("waiting for Temporal at %s: %s", address, err)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

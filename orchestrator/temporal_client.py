"""Connecting to Temporal the same way from the worker, the API and tripctl.

A local dev server needs an address only. A production cluster usually wants TLS: mutual TLS with a
client certificate (TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY, and TEMPORAL_TLS_CA for a private CA), or an
API key (TEMPORAL_API_KEY, as Temporal Cloud issues them), which implies TLS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.client import Client, Interceptor
from temporalio.service import RPCError, TLSConfig

from orchestrator.observability import process_runtime, temporal_interceptors
from orchestrator.search_attributes import ensure_search_attributes

if TYPE_CHECKING:
    from orchestrator.config import Settings

log = logging.getLogger("orchestrator.temporal")


@dataclass(frozen=True)
class TemporalSecurity:
    """How to authenticate to Temporal; the default (all empty, tls off) is a plain local connection."""

    tls: bool = False
    client_cert: str = ""  # PEM file
    client_key: str = ""  # PEM file
    server_ca: str = ""  # PEM file; empty: the system's roots
    api_key: str = ""

    def tls_config(self) -> TLSConfig | bool:
        """What Client.connect takes: False, True (system roots) or a TLSConfig with the files read."""
        if not (self.tls or self.client_cert or self.api_key or self.server_ca):
            return False
        if bool(self.client_cert) != bool(self.client_key):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
        if not (self.client_cert or self.server_ca):
            return True
        return TLSConfig(
            server_root_ca_cert=Path(self.server_ca).read_bytes() if self.server_ca else None,
            client_cert=Path(self.client_cert).read_bytes() if self.client_cert else None,
            client_private_key=Path(self.client_key).read_bytes() if self.client_key else None,
        )


async def connect(
    address: str,
    namespace: str,
    timeout: float = 30.0,
    security: TemporalSecurity | None = None,
    metrics_addr: str = "",
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect, retrying for `timeout` seconds: under `make up` Temporal may still be starting.

    With `metrics_addr` the SDK serves Prometheus metrics there (orchestrator.observability): what an
    operator watches, such as workflow-task and local-activity latencies, task slots in use,
    sticky-cache hits and evictions, request latencies to the Temporal server, and the trip counters.
    """
    security = security or TemporalSecurity()
    tls = security.tls_config()
    runtime = process_runtime(metrics_addr)
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return await Client.connect(
                address,
                namespace=namespace,
                tls=tls,
                api_key=security.api_key or None,
                runtime=runtime,
                interceptors=interceptors,
            )
        except (RuntimeError, RPCError, OSError) as err:
            if time.monotonic() + delay > deadline:
                raise RuntimeError(f"cannot reach Temporal at {address}: {err}") from err
            log.info("waiting for Temporal at %s: %s", address, err)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


async def connect_and_prepare(settings: Settings) -> tuple[Client, list[str]]:
    """Connect as `settings` say and make sure the trip's search attributes exist on the namespace.

    Both the worker and the API do this at start-up, so either works against a bare dev server.
    Returns the client and the names of the attributes that had to be added.
    """
    client = await connect(
        settings.temporal_address,
        settings.namespace,
        settings.connect_timeout_seconds,
        settings.temporal_security,
        settings.metrics_addr,
        temporal_interceptors(),
    )
    return client, await ensure_search_attributes(client)

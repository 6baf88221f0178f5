"""`STACK_OBSERVE=1 make up`: the stack with traces, metrics, worker health and (if installed) Prometheus.

- Traces: an OTLP receiver inside the stack runner (scripts/otlp_receiver.py) on the OTLP port; every
  process exports to it through OTEL_EXPORTER_OTLP_ENDPOINT, and it appends each span to
  `<state dir>/traces.jsonl`, which `python -m scripts.trace_timeline` prints as per-trip timelines.
- Metrics: each process serves /metrics on its own port (TRIP_METRICS_ADDR of the API and the worker,
  FLIGHT_/HOTEL_/CAB_METRICS_ADDR), the ones deploy/prometheus/prometheus.yml scrapes.
- Health: the worker's grpc.health.v1 on TRIP_HEALTH_ADDR.
- Prometheus: when Debian's `prometheus` binary is on PATH (`make tools` installs it), it runs as one
  more child with deploy/prometheus's scrape config (moved to the actual ports) and alert rules.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scripts.otlp_receiver import OtlpReceiver
from scripts.stack_health import free_port
from scripts.stack_temporal import ROOT

DEPLOY = ROOT / "deploy" / "prometheus"
# The metrics port of each process in deploy/prometheus/prometheus.yml (and so in `make up`).
METRICS_PROCESSES = ("api", "worker", "flight", "hotel", "cab")
DEFAULT_METRICS_PORTS = dict(zip(METRICS_PROCESSES, (9464, 9465, 9466, 9467, 9468), strict=True))


@dataclass
class ObservePorts:
    """Where the observability endpoints listen; the defaults are the ones docs/operations.md lists."""

    otlp: int = 4317
    api: int = 9464
    worker: int = 9465
    flight: int = 9466
    hotel: int = 9467
    cab: int = 9468
    worker_health: int = 50054
    prometheus: int = 9090

    @classmethod
    def free(cls) -> ObservePorts:
        """Fresh ports, so a test or benchmark never collides with `make up`."""
        return cls(*(free_port() for _ in range(8)))

    def metrics_addr(self, process: str) -> str:
        return f"127.0.0.1:{getattr(self, process)}"


class Observability:
    """The stack's observability side: per-process environment, the receiver, Prometheus's argv."""

    def __init__(self, ports: ObservePorts, state_dir: Path) -> None:
        self.ports = ports
        self.state_dir = state_dir
        self.traces = state_dir / "traces.jsonl"
        self.receiver = OtlpReceiver(f"127.0.0.1:{ports.otlp}", self.traces, keep=False)

    async def start(self) -> None:
        await self.receiver.start()

    async def stop(self) -> None:
        await self.receiver.stop()

    def env(self, process: str) -> dict[str, str]:
        """Extra environment of one child ("flight", "worker", "api", ...)."""
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": self.receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "500"}
        if process in ("flight", "hotel", "cab"):
            env[f"{process.upper()}_METRICS_ADDR"] = self.ports.metrics_addr(process)
        elif process in ("api", "worker"):
            env["TRIP_METRICS_ADDR"] = self.ports.metrics_addr(process)
        if process == "worker":
            env["TRIP_HEALTH_ADDR"] = f"127.0.0.1:{self.ports.worker_health}"
        return env

    @staticmethod
    def prometheus_binary() -> str | None:
        return shutil.which("prometheus")

    def prometheus_argv(self, binary: str) -> list[str]:
        """Prometheus on this stack's ports, with the shipped rules; its data under the state dir."""
        home = self.state_dir / "prometheus"
        home.mkdir(parents=True, exist_ok=True)
        config = (DEPLOY / "prometheus.yml").read_text()
        config = config.replace("  - alerts.yml", f"  - {DEPLOY / 'alerts.yml'}")
        config = config.replace("scrape_interval: 15s", "scrape_interval: 5s")
        for process, port in DEFAULT_METRICS_PORTS.items():
            config = config.replace(f'"localhost:{port}"', f'"{self.ports.metrics_addr(process)}"')
        (home / "prometheus.yml").write_text(config)
        return [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
            "--storage.tsdb.retention.time=2d",
        ]

    async def wait_prometheus_ready(self, timeout: float) -> None:
        url = f"http://127.0.0.1:{self.ports.prometheus}/-/ready"
        deadline = time.monotonic() + timeout
        while True:
            try:
                await asyncio.to_thread(_get, url)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def describe(self, with_prometheus: bool) -> list[str]:
        ports = self.ports
        lines = [
            f"  traces            OTLP/gRPC on 127.0.0.1:{ports.otlp} -> {self.traces}",
            "                    (python -m scripts.trace_timeline --file ... --last 3)",
            "  metrics           "
            + ", ".join(f"{name} :{getattr(ports, name)}/metrics" for name in METRICS_PROCESSES),
            f"  worker health     grpc.health.v1 on 127.0.0.1:{ports.worker_health}",
        ]
        if with_prometheus:
            lines.append(f"  Prometheus        http://127.0.0.1:{ports.prometheus}  (alerts: /alerts)")
        return lines


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return str(reply.read().decode())

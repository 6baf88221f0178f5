"""What the tests need to run the suite's real processes: free ports and a wait for SERVING.

Processes themselves are scripts.stack_process.ChildProcess, the one class `make up`, the demo and
the benchmark start programs with (`ChildProcess.python(name, module, env=..., log_path=...)`).
"""

from __future__ import annotations

from booking_runtime.tls import TlsSettings
from scripts.stack_health import free_port as free_port  # re-exported for the tests
from scripts.stack_health import wait_grpc_serving
from scripts.stack_process import ROOT as ROOT  # re-exported for the tests


async def wait_serving(
    address: str, service: str = "", timeout: float = 30.0, tls_settings: TlsSettings | None = None
) -> None:
    """Wait until the gRPC health service at `address` reports SERVING (over TLS with `tls_settings`)."""
    await wait_grpc_serving(address, timeout=timeout, service=service, tls_settings=tls_settings)

"""Connecting to Temporal the same way from the worker and the API: the SDK's standard settings.

`temporalio.envconfig` reads what every Temporal tool reads: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, and a TOML profile (TEMPORAL_PROFILE,
TEMPORAL_CONFIG_FILE). Command-line flags win over both. The names this suite read before
(TEMPORAL_TLS_CERT, _KEY, _CA) still work for one release, with a deprecation line in the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.service import RPCError, TLSConfig

from booking_runtime import flags
from orchestrator.observability import process_runtime, temporal_interceptors
from orchestrator.search_attributes import ensure_search_attributes

if TYPE_CHECKING:
    from orchestrator.codec import PayloadProtection
    from orchestrator.config import Settings

log = logging.getLogger("orchestrator.temporal")

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
# Old name -> the standard name it stands for (removed in the release after next).
DEPRECATED_ALIASES = {
    "TEMPORAL_TLS_CERT": "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_KEY": "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CA": "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
}
_ON = set(flags.TRUE_WORDS)
_OFF = set(flags.FALSE_WORDS)


def standard_env(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """`env` as envconfig should read it, and the deprecated names that were used.

    An old name fills its standard name when that is unset. TEMPORAL_TLS=on/off (this suite's old
    spelling) becomes true/false: envconfig would read "off" as "TLS configured", i.e. on.
    """
    standard = dict(env)
    used = []
    for old, new in DEPRECATED_ALIASES.items():
        if standard.get(old):
            used.append(old)
            standard.setdefault(new, standard[old])
    tls = standard.get("TEMPORAL_TLS", "").strip().lower()
    if tls in _ON | _OFF:
        standard["TEMPORAL_TLS"] = "true" if tls in _ON else "false"
    elif not tls:
        standard.pop("TEMPORAL_TLS", None)
    return standard, used


def connect_config(settings: Settings, env: Mapping[str, str] | None = None) -> ClientConnectConfig:
    """Client.connect's arguments: the envconfig profile (file, then environment), then the flags."""
    standard, used = standard_env(os.environ if env is None else env)
    for old in used:
        use = DEPRECATED_ALIASES[old]
        log.warning("deprecated_setting", extra={"event": "deprecated_setting", "setting": old, "use": use})
    config = ClientConfigProfile.load(override_env_vars=standard).to_client_connect_config()
    config["target_host"] = settings.temporal_address or config.get("target_host") or DEFAULT_ADDRESS
    config["namespace"] = settings.namespace or config.get("namespace") or DEFAULT_NAMESPACE
    if settings.temporal_api_key:
        config["api_key"] = settings.temporal_api_key
        config.setdefault("tls", True)
    switch = settings.temporal_tls.strip().lower()
    if switch in _OFF:
        config["tls"] = False
    elif switch in _ON and not config.get("tls"):
        config["tls"] = True
    files = (settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca)
    if any(files):
        base = config.get("tls")
        base = base if isinstance(base, TLSConfig) else TLSConfig()
        config["tls"] = TLSConfig(
            domain=base.domain,
            server_root_ca_cert=_read(settings.temporal_tls_ca) or base.server_root_ca_cert,
            client_cert=_read(settings.temporal_tls_cert) or base.client_cert,
            client_private_key=_read(settings.temporal_tls_key) or base.client_private_key,
        )
    tls = config.get("tls")
    if isinstance(tls, TLSConfig) and bool(tls.client_cert) != bool(tls.client_private_key):
        raise ValueError("TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together")
    return config


def _read(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


async def connect(
    config: ClientConnectConfig,
    timeout: float = 30.0,
    metrics_addr: str = "",
    data_converter: DataConverter | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect, retrying for `timeout` seconds: under `make up` Temporal may still be starting.

    With `metrics_addr` the SDK serves Prometheus metrics there (orchestrator.observability): what an
    operator watches, such as workflow-task and local-activity latencies, task slots in use,
    sticky-cache hits and evictions, request latencies to the Temporal server, and the trip counters.
    """
    runtime = process_runtime(metrics_addr)
    converter = data_converter or DataConverter.default
    address = config.get("target_host", DEFAULT_ADDRESS)
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return await Client.connect(
                **config, runtime=runtime, data_converter=converter, interceptors=interceptors
            )
        except (RuntimeError, RPCError, OSError) as err:
            if time.monotonic() + delay > deadline:
                raise RuntimeError(f"cannot reach Temporal at {address}: {err}") from err
            log.info("waiting for Temporal at %s: %s", address, err)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


async def connect_and_prepare(
    settings: Settings, protection: PayloadProtection | None = None
) -> tuple[Client, list[str]]:
    """Connect as `settings` say and make sure the trip's search attributes exist on the namespace.

    Both the worker and the API do this at start-up, so either works against a bare dev server.
    With `protection` (TRIP_CODEC_KEYS) every payload goes through its codec and failure converter.
    Returns the client and the names of the attributes that had to be added.
    """
    client = await connect(
        connect_config(settings),
        settings.connect_timeout_seconds,
        settings.metrics_addr,
        protection.data_converter if protection is not None else None,
        temporal_interceptors(),
    )
    return client, await ensure_search_attributes(client)

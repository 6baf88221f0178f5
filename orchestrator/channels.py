"""The one place a client channel to a booking service is opened (DESIGN.md "Scale-out").

`open_channel("host:port")` is the plain channel the worker has always used. A comma-separated list,
`"flight-1:50051,flight-2:50051"`, gives one channel over all of them with gRPC's own `round_robin`
policy: a subchannel per address, calls spread over those that are READY, and a replica that is down
is skipped until it reconnects (a call in flight when it dies fails UNAVAILABLE and the saga's retry
takes it elsewhere). grpc.aio has no API for a static address list except its `ipv4:` / `ipv6:`
targets, which take IP literals only, so host names in a list are resolved once, here, when the
channel opens. Where replicas come and go (Kubernetes, compose with `deploy.replicas`), give one
`dns:///name:port` target instead: gRPC then resolves the name itself, re-resolves on failures, and
round-robins over every address it returns (a headless Service in Kubernetes).

TLS (booking_runtime.tls, when TRIP_TLS_CA is set) is added here too, so that every booking-service
channel gets it in one place; a list's certificates are checked against the first address's host.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Sequence

import grpc

from booking_runtime import tls, tracing

# Reconnect quickly once a service is back: the default backoff grows to two minutes.
CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30000),
]
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def split_addresses(addresses: str) -> list[str]:
    """`"a:1, b:2"` -> `["a:1", "b:2"]`; an empty list is a configuration error."""
    parts = [part.strip() for part in addresses.split(",") if part.strip()]
    if not parts:
        raise ValueError(f"no address in {addresses!r}")
    return parts


def _host_port(address: str) -> tuple[str, int]:
    """`"host:port"` or `"[v6]:port"` -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _ips(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host's addresses, IPv4 first; an IP literal is itself."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ValueError(f"cannot resolve {host!r}: {err}") from None
    found = {ipaddress.ip_address(info[4][0]) for info in infos}
    return sorted(found, key=lambda ip: (ip.version, int(ip)))


def static_target(addresses: Sequence[str]) -> str:
    """A gRPC `ipv4:` (or `ipv6:`) target listing every address, host names resolved now.

    A name that resolves to several addresses (a multi-homed host) contributes all of one family.
    The list must be of one family: IPv4 wherever every host has an IPv4 address, else IPv6.
    """
    resolved = [(port, _ips(host, port)) for host, port in map(_host_port, addresses)]
    for version, scheme in ((4, "ipv4"), (6, "ipv6")):
        if all(any(ip.version == version for ip in ips) for _, ips in resolved):
            entries = [
                f"{ip}:{port}" if version == 4 else f"[{ip}]:{port}"
                for port, ips in resolved
                for ip in ips
                if ip.version == version
            ]
            return f"{scheme}:" + ",".join(dict.fromkeys(entries))
    raise ValueError(f"{', '.join(addresses)}: mixes hosts that are IPv4-only and IPv6-only")


def channel_target(addresses: str) -> tuple[str, list[tuple[str, int | str]]]:
    """The target and options `open_channel` uses (apart, for tests and for the TLS branch)."""
    parts = split_addresses(addresses)
    if len(parts) == 1 and "://" not in parts[0] and not parts[0].startswith(("ipv4:", "ipv6:")):
        return parts[0], list(CHANNEL_OPTIONS)  # one replica: the channel as it always was
    target = parts[0] if len(parts) == 1 else static_target(parts)
    # The list decides, not a service config a DNS TXT record might carry. An `ipv4:` target has no
    # host name: the first address names the authority (and the name TLS verifies).
    authority = [("grpc.default_authority", parts[0])] if len(parts) > 1 else []
    return target, [
        *CHANNEL_OPTIONS,
        *authority,
        ("grpc.service_config", ROUND_ROBIN),
        ("grpc.service_config_disable_resolution", 1),
    ]


def open_channel(addresses: str) -> grpc.aio.Channel:
    """A channel to one booking service: one `host:port`, several comma-separated, or a `dns:///` target."""
    target, options = channel_target(addresses)
    # TLS when TRIP_TLS_CA is set; OpenTelemetry's client interceptors when tracing is on.
    return tls.aio_channel(target, options=options, interceptors=tracing.client_interceptors() or None)

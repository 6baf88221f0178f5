"""TLS and mutual TLS for every gRPC server and client of the suite, from four environment variables.

`TRIP_TLS_CERT` / `TRIP_TLS_KEY`: this process's own PEM certificate and key (a server serves TLS only
when it has them; a client presents them for mutual TLS). `TRIP_TLS_CA`: the PEM bundle peers are
verified against (a client with it connects with TLS). `TRIP_TLS_CLIENT_AUTH=require`: a server also
requires a client certificate signed by `TRIP_TLS_CA`. All unset: plaintext, exactly as before, and
no cost at all (the same insecure port and channel calls).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

ChannelOptions = Sequence[tuple[str, Any]]

ENV_CERT = "TRIP_TLS_CERT"
ENV_KEY = "TRIP_TLS_KEY"
ENV_CA = "TRIP_TLS_CA"
ENV_CLIENT_AUTH = "TRIP_TLS_CLIENT_AUTH"
CLIENT_AUTH_VALUES = ("", "none", "require")


class TlsConfigError(ValueError):
    """The TLS variables do not make sense together (a process refuses to start with them)."""


@dataclass(frozen=True)
class TlsSettings:
    """Paths of the PEM files (empty: not given) and whether a server requires client certificates."""

    cert: str = ""
    key: str = ""
    ca: str = ""
    client_auth: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TlsSettings:
        env = os.environ if env is None else env
        settings = cls(
            cert=env.get(ENV_CERT, ""),
            key=env.get(ENV_KEY, ""),
            ca=env.get(ENV_CA, ""),
            client_auth=env.get(ENV_CLIENT_AUTH, "").strip().lower(),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if bool(self.cert) != bool(self.key):
            raise TlsConfigError(f"{ENV_CERT} and {ENV_KEY} go together")
        if self.client_auth not in CLIENT_AUTH_VALUES:
            raise TlsConfigError(f"{ENV_CLIENT_AUTH} must be 'require' or empty, not {self.client_auth!r}")
        if self.client_auth == "require" and not (self.ca and self.cert):
            raise TlsConfigError(f"{ENV_CLIENT_AUTH}=require needs {ENV_CERT}, {ENV_KEY} and {ENV_CA}")

    @property
    def server_enabled(self) -> bool:
        return bool(self.cert)

    @property
    def client_enabled(self) -> bool:
        return bool(self.ca)

    def _read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as err:
            raise TlsConfigError(f"cannot read {path}: {err.strerror}") from None

    def server_credentials(self) -> grpc.ServerCredentials:
        """TLS only; with client_auth=require also a client certificate signed by the CA."""
        require = self.client_auth == "require"
        return grpc.ssl_server_credentials(
            [(self._read(self.key), self._read(self.cert))],
            root_certificates=self._read(self.ca) if self.ca else None,
            require_client_auth=require,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Verify the server against the CA; present our own certificate when we have one."""
        return grpc.ssl_channel_credentials(
            root_certificates=self._read(self.ca),
            private_key=self._read(self.key) if self.cert else None,
            certificate_chain=self._read(self.cert) if self.cert else None,
        )


def add_port(server: grpc.aio.Server, address: str, settings: TlsSettings | None = None) -> int:
    """Listen on `address`: TLS only when the process has a certificate, else plaintext."""
    settings = TlsSettings.from_env() if settings is None else settings
    if not settings.server_enabled:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, settings.server_credentials())


def aio_channel(
    target: str,
    options: ChannelOptions | None = None,
    settings: TlsSettings | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """A grpc.aio channel to `target`: TLS when `TRIP_TLS_CA` is set, else plaintext."""
    settings = TlsSettings.from_env() if settings is None else settings
    if not settings.client_enabled:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    credentials = settings.channel_credentials()
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


def sync_channel(
    target: str, options: ChannelOptions | None = None, settings: TlsSettings | None = None
) -> grpc.Channel:
    """The blocking twin of `aio_channel` (tripctl)."""
    settings = TlsSettings.from_env() if settings is None else settings
    if not settings.client_enabled:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, settings.channel_credentials(), options=options)

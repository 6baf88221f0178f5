"""The secure `make up` (STACK_SECURE=1 or `--secure`): what it adds to the plain stack.

A local CA, certificates, keys, a JWT secret with one customer and one operator token, and a codec
key, all under <state>/secure/; every process then runs mutual TLS, TRIP_AUTH=jwt and the payload
codec, and the codec server runs beside them so the dev server's Web UI (`--ui-codec-endpoint`)
shows operators plaintext while Temporal's database holds ciphertext.
"""

from __future__ import annotations

from pathlib import Path

from booking_runtime.tls import TlsSettings
from scripts.secure_material import SecureMaterial, make_material

DEFAULT_CODEC_PORT = 8081


class SecureStackParts:
    """Material for one secure stack, and what the stack needs from it."""

    def __init__(self, state_dir: Path, codec_port: int) -> None:
        self.material: SecureMaterial = make_material(state_dir / "secure")
        self.codec_port = codec_port

    @property
    def codec_url(self) -> str:
        return f"http://localhost:{self.codec_port}"

    def env(self) -> dict[str, str]:
        """For every Python child: mutual TLS, JWT auth and the codec, and the codec server's address."""
        return {**self.material.process_env(), "TRIP_CODEC_ADDR": f"localhost:{self.codec_port}"}

    def codec_env(self, child_env: dict[str, str]) -> dict[str, str]:
        """The codec server's: plain HTTP on localhost, so a browser reaches it without trusting our CA."""
        return {key: value for key, value in child_env.items() if not key.startswith("TRIP_TLS_")}

    def probe_tls(self) -> TlsSettings:
        """The readiness probes dial as a service does: CA, and its certificate for mutual TLS."""
        return TlsSettings.from_env(self.material.process_env())

    def describe(self, api: str) -> list[str]:
        directory = self.material.directory
        return [
            f"  codec server      {self.codec_url}  (Web UI decodes through it; operator token)",
            f"  secure material   {directory}/  (mutual TLS, TRIP_AUTH=jwt, TRIP_CODEC_KEYS)",
            f"    source {directory}/env",
            f'    TRIP_TOKEN="$TRIP_TOKEN_CUSTOMER" tripctl --address {api} list     # as customer '
            f"{self.material.customer}",
            f"    grpcurl -cacert {directory}/ca.pem -cert {directory}/client.pem "
            f'-key {directory}/client.key -H "authorization: Bearer $TRIP_TOKEN_OPERATOR" {api} list',
            f"    temporal workflow show -w <trip_id> --codec-endpoint {self.codec_url} "
            '--codec-auth "Bearer $TRIP_TOKEN_OPERATOR"',
        ]

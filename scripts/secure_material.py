"""Everything a secure stack needs, made locally: a CA, certificates and keys, JWTs and codec keys.

`python -m scripts.secure_material DIR` writes them and prints the environment that turns security on
(the secure `make up` does this itself, under var/secure/). For a laptop or a test only: a real
deployment gets its certificates from its own CA and its tokens from its identity provider.

    DIR/ca.pem            the local CA (TRIP_TLS_CA of every process)
    DIR/service.pem/.key  the certificate every server and internal client presents
    DIR/client.pem/.key   a client certificate for tripctl and grpcurl
    DIR/env               the variables, as `export NAME=value` lines (secrets: mode 0600)
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from orchestrator.codec import new_key_entry

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
TOKEN_DAYS = 30


@dataclass
class CertificateAuthority:
    """A CA that signs leaf certificates for local names (EC P-256, short-lived)."""

    name: str = "tripbooking local CA"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    days: int = 30

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=self.days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self.key, hashes.SHA256())
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, names: tuple[str, ...] = LOCAL_NAMES) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for `names`, good for both server and client authentication."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=self.days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


def make_token(secret: str, subject: str, roles: list[str] | None = None, seconds: float = 3600.0) -> str:
    """An HS256 JWT for TRIP_AUTH_JWT_SECRET=`secret`: sub, roles, iat, exp."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + int(seconds)}
    if roles:
        claims["roles"] = roles
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class SecureMaterial:
    """Paths of the files written and the environment that turns every security feature on."""

    directory: Path
    jwt_secret: str
    codec_keys: str
    customer: str
    customer_token: str
    operator_token: str

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def pair(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.pem", self.directory / f"{name}.key"

    def process_env(self) -> dict[str, str]:
        """For every server and internal client of the stack: mutual TLS, JWT, codec."""
        cert, key = self.pair("service")
        return {
            "TRIP_TLS_CERT": str(cert),
            "TRIP_TLS_KEY": str(key),
            "TRIP_TLS_CA": str(self.ca),
            "TRIP_TLS_CLIENT_AUTH": "require",
            "TRIP_AUTH": "jwt",
            "TRIP_AUTH_JWT_SECRET": self.jwt_secret,
            "TRIP_CODEC_KEYS": self.codec_keys,
        }

    def client_env(self, operator: bool = False) -> dict[str, str]:
        """For tripctl: TLS with the client certificate, and a customer's (or the operator's) token."""
        cert, key = self.pair("client")
        return {
            "TRIP_TLS_CA": str(self.ca),
            "TRIP_TLS_CERT": str(cert),
            "TRIP_TLS_KEY": str(key),
            "TRIP_TOKEN": self.operator_token if operator else self.customer_token,
        }


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    path.write_bytes(data)
    if secret:
        path.chmod(0o600)


def make_material(directory: Path, customer: str = "alice", operator: str = "ops") -> SecureMaterial:
    """Write a fresh CA, the service and client certificates, and make the secrets and tokens."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca = CertificateAuthority()
    _write(directory / "ca.pem", ca.cert_pem())
    for name in ("service", "client"):
        cert, key = ca.issue(f"tripbooking {name}")
        _write(directory / f"{name}.pem", cert)
        _write(directory / f"{name}.key", key, secret=True)
    secret = secrets.token_urlsafe(48)
    material = SecureMaterial(
        directory=directory,
        jwt_secret=secret,
        codec_keys=new_key_entry(f"k{time.strftime('%Y%m%d')}"),
        customer=customer,
        customer_token=make_token(secret, customer, seconds=TOKEN_DAYS * 86400),
        operator_token=make_token(secret, operator, ["operator"], seconds=TOKEN_DAYS * 86400),
    )
    lines = [f"export {name}={shlex.quote(value)}" for name, value in material.process_env().items()]
    lines.append(f"export TRIP_TOKEN_CUSTOMER={shlex.quote(material.customer_token)}  # sub={customer}")
    lines.append(f"export TRIP_TOKEN_OPERATOR={shlex.quote(material.operator_token)}  # roles=[operator]")
    _write(directory / "env", ("\n".join(lines) + "\n").encode(), secret=True)
    return material


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.secure_material", description=__doc__)
    parser.add_argument("directory", type=Path, nargs="?", default=Path("var/secure"))
    args = parser.parse_args(argv)
    material = make_material(args.directory)
    print(f"wrote {material.directory}/ (ca.pem, service.pem/.key, client.pem/.key, env)")
    print(f"source {material.directory / 'env'}  # the stack's variables and both tokens")


if __name__ == "__main__":
    main()

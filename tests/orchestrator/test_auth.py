"""Token verification alone (no server): algorithms, expiry, audience, issuer, roles, configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from orchestrator.auth import AuthConfigError, Caller, JwtVerifier, Unauthenticated, interceptors_from_env
from orchestrator.bearer import aio_interceptors

SECRET = "s" * 40


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 300, **extra}


def hs256(env: dict[str, str] | None = None) -> JwtVerifier:
    verifier = JwtVerifier.from_env({"TRIP_AUTH": "jwt", "TRIP_AUTH_JWT_SECRET": SECRET, **(env or {})})
    assert verifier is not None
    return verifier


def public_key_file(tmp_path: Path, private: Any) -> str:
    path = tmp_path / "public.pem"
    path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


def test_auth_is_off_unless_asked_for() -> None:
    assert JwtVerifier.from_env({}) is None


def test_hs256_gives_the_customer_and_the_operator_role() -> None:
    assert hs256().verify(jwt.encode(claims(), SECRET)) == Caller("alice", False)
    assert hs256().verify(jwt.encode(claims(roles=["operator"]), SECRET)) == Caller("alice", True)
    assert hs256().verify(jwt.encode(claims(roles="operator"), SECRET)).operator is False


@pytest.mark.parametrize(
    ("token_claims", "reason"),
    [
        ({"sub": "alice", "exp": int(time.time()) - 120}, "TOKEN_EXPIRED"),
        ({"sub": "alice"}, "INVALID_TOKEN"),  # no exp: expiry is always required
        ({"exp": int(time.time()) + 300}, "INVALID_TOKEN"),  # no sub
    ],
)
def test_expired_or_incomplete_tokens_are_refused(token_claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        hs256().verify(jwt.encode(token_claims, SECRET))
    assert refused.value.reason == reason


def test_audience_and_issuer_are_checked_when_configured() -> None:
    verifier = hs256({"TRIP_AUTH_JWT_AUDIENCE": "trips", "TRIP_AUTH_JWT_ISSUER": "https://idp"})
    assert verifier.verify(jwt.encode(claims(aud="trips", iss="https://idp"), SECRET)).customer_id == "alice"
    for wrong in (claims(aud="other", iss="https://idp"), claims(aud="trips", iss="evil"), claims()):
        with pytest.raises(Unauthenticated):
            verifier.verify(jwt.encode(wrong, SECRET))


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_public_key_verifies_rs256_or_es256_and_nothing_else(tmp_path: Path, kind: str) -> None:
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    algorithm = "RS256" if kind == "rsa" else "ES256"
    key_file = public_key_file(tmp_path, private)
    verifier = JwtVerifier.from_env({"TRIP_AUTH": "jwt", "TRIP_AUTH_JWT_PUBLIC_KEY": key_file})
    assert verifier is not None
    assert verifier.verify(jwt.encode(claims(), private, algorithm=algorithm)).customer_id == "alice"
    # Algorithm confusion: an HS256 token whose "secret" is the public key itself.
    with pytest.raises(Unauthenticated):
        verifier.verify(hs256_signed_with(Path(key_file).read_bytes()))
    with pytest.raises(Unauthenticated):
        verifier.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))
    unsigned = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        verifier.verify(unsigned)


def hs256_signed_with(key: bytes) -> str:
    """A token HMAC-signed with `key` by hand (pyjwt itself refuses a PEM key as an HMAC secret)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims()).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(signature)}"


def test_the_bearer_header_is_required() -> None:
    verifier = hs256()
    good = jwt.encode(claims(), SECRET)
    assert verifier.verify_metadata([("authorization", f"Bearer {good}")]).customer_id == "alice"
    for metadata in ([], [("authorization", good)], [("authorization", "Basic abc")]):
        with pytest.raises(Unauthenticated):
            verifier.verify_metadata(metadata)


@pytest.mark.parametrize(
    "env",
    [
        {"TRIP_AUTH": "basic"},
        {"TRIP_AUTH": "jwt"},
        {"TRIP_AUTH": "jwt", "TRIP_AUTH_JWT_SECRET": "short"},
        {"TRIP_AUTH": "jwt", "TRIP_AUTH_JWT_PUBLIC_KEY": "/nonexistent.pem"},
        {"TRIP_AUTH": "jwt", "TRIP_AUTH_JWT_SECRET": SECRET, "TRIP_AUTH_JWT_PUBLIC_KEY": "/x.pem"},
    ],
)
def test_a_bad_configuration_stops_the_process(env: dict[str, str]) -> None:
    with pytest.raises(AuthConfigError):
        JwtVerifier.from_env(env)


def test_no_interceptor_is_installed_when_auth_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIP_AUTH", raising=False)
    assert interceptors_from_env(None, None) == []  # type: ignore[arg-type]


def test_a_grpc_aio_client_sends_the_token_on_unary_and_streaming_calls() -> None:
    # A grpc.aio channel files each interceptor under its first matching shape only: one object per shape.
    unary, stream = aio_interceptors("t")
    assert isinstance(unary, grpc.aio.UnaryUnaryClientInterceptor)
    assert isinstance(stream, grpc.aio.UnaryStreamClientInterceptor)
    assert aio_interceptors("") == []

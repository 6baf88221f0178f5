"""Who may call TripService: JWT bearer tokens, customer isolation and the operator role.

With `TRIP_AUTH=jwt` every TripService call must carry `authorization: Bearer <JWT>`, verified with
`TRIP_AUTH_JWT_SECRET` (HS256) or `TRIP_AUTH_JWT_PUBLIC_KEY` (a PEM file: RS256 for an RSA key, ES256
for an EC key; only that one algorithm is accepted, so a token cannot pick its own), and the audience
and issuer when `TRIP_AUTH_JWT_AUDIENCE` / `TRIP_AUTH_JWT_ISSUER` are set. Expiry is always required.
The token's `sub` is the customer id; `roles` holding `operator` opens every trip.

The interceptor checks the token once per call, before the servicer (and so before any Temporal call);
health and reflection are never wrapped. Then, per method:
- BookTrip / ListTrips for another customer_id: PERMISSION_DENIED; ListTrips without one lists the
  caller's own trips (an operator's: everyone's).
- GetTrip / WatchTrip of another customer's trip: NOT_FOUND, the same answer as for no trip at all.
- CancelTrip: the trip's owner is read from visibility first (describe), so a stranger's cancel
  changes nothing and gets NOT_FOUND.
Unset `TRIP_AUTH`: no interceptor is installed at all.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from tripbooking.trip.v1 import trip_pb2

from booking_runtime.errors import NotFound, ServiceError, Unavailable
from orchestrator import search_attributes
from orchestrator.codec import CustomerHasher

TRIP_SERVICE_PREFIX = "/" + trip_pb2.DESCRIPTOR.services_by_name["TripService"].full_name + "/"
OPERATOR_ROLE = "operator"
CLOCK_SKEW_SECONDS = 30


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class AuthConfigError(ValueError):
    """TRIP_AUTH and its settings do not fit together (the process refuses to start)."""


@dataclass(frozen=True)
class Caller:
    customer_id: str
    operator: bool

    def may_act_for(self, customer_id: str) -> bool:
        return self.operator or customer_id == self.customer_id


class JwtVerifier:
    """Verifies bearer tokens: signature with one algorithm, exp always, aud and iss when configured."""

    def __init__(self, key: Any, algorithm: str, audience: str = "", issuer: str = "") -> None:
        self._key = key
        self._algorithms = [algorithm]
        self._audience = audience or None
        self._issuer = issuer or None
        self._options: dict[str, Any] = {"require": ["exp", "sub"], "verify_aud": bool(audience)}
        if issuer:
            self._options["require"].append("iss")
        if audience:
            self._options["require"].append("aud")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JwtVerifier | None:
        """The verifier TRIP_AUTH asks for; None when auth is off."""
        env = os.environ if env is None else env
        mode = env.get("TRIP_AUTH", "").strip().lower()
        if mode in ("", "none", "off"):
            return None
        if mode != "jwt":
            raise AuthConfigError(f"TRIP_AUTH must be 'jwt' or empty, not {mode!r}")
        secret = env.get("TRIP_AUTH_JWT_SECRET", "")
        key_file = env.get("TRIP_AUTH_JWT_PUBLIC_KEY", "")
        if bool(secret) == bool(key_file):
            raise AuthConfigError(
                "TRIP_AUTH=jwt needs exactly one of TRIP_AUTH_JWT_SECRET, TRIP_AUTH_JWT_PUBLIC_KEY"
            )
        audience = env.get("TRIP_AUTH_JWT_AUDIENCE", "")
        issuer = env.get("TRIP_AUTH_JWT_ISSUER", "")
        if secret:
            if len(secret.encode()) < 32:
                raise AuthConfigError("TRIP_AUTH_JWT_SECRET must be at least 32 bytes (HS256)")
            return cls(secret.encode(), "HS256", audience, issuer)
        try:
            public_key = load_pem_public_key(Path(key_file).read_bytes())
        except (OSError, ValueError) as err:
            raise AuthConfigError(f"TRIP_AUTH_JWT_PUBLIC_KEY: cannot load {key_file}: {err}") from None
        if isinstance(public_key, rsa.RSAPublicKey):
            return cls(public_key, "RS256", audience, issuer)
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            return cls(public_key, "ES256", audience, issuer)
        raise AuthConfigError("TRIP_AUTH_JWT_PUBLIC_KEY must be an RSA or EC (P-256) public key")

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=self._options,  # type: ignore[arg-type]
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as err:
            raise Unauthenticated(f"invalid token: {_short(err)}", reason="INVALID_TOKEN") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise Unauthenticated("invalid token: sub must be a customer id", reason="INVALID_TOKEN")
        roles = claims.get("roles") or []
        operator = isinstance(roles, list) and OPERATOR_ROLE in roles
        return Caller(subject, operator)

    def verify_metadata(self, metadata: Iterable[tuple[str, Any]] | None) -> Caller:
        """The caller named by the `authorization: Bearer` header; UNAUTHENTICATED without one."""
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str):
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return self.verify(token.strip())
                break
        raise Unauthenticated("missing authorization: Bearer <token>", reason="NO_TOKEN")


def _short(err: Exception) -> str:
    return str(err)[:120]


class TripOwners:
    """Whose trip is it: the TripCustomerId attribute, read with one describe call (CancelTrip)."""

    def __init__(self, client: Client, hasher: CustomerHasher | None) -> None:
        self._client = client
        self._hasher = hasher

    async def owned_by(self, trip_id: str, caller: Caller) -> bool | None:
        """True/False; None when there is no such trip (the servicer answers that itself)."""
        try:
            description = await self._client.get_workflow_handle(trip_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"Temporal: {err.message}", reason=f"TEMPORAL_{err.status.name}") from err
        indexed = description.typed_search_attributes.get(search_attributes.TRIP_CUSTOMER_ID)
        if indexed is None:
            return False
        mine = self._hasher.every(caller.customer_id) if self._hasher else [caller.customer_id]
        return indexed in mine


Behavior = Callable[..., Any]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Verifies the token on every TripService call and applies the per-method rules above.

    Runs inside CallInterceptor (ServerSpec.interceptors), which caches the handler it wraps per
    method, so this one builds each wrapped handler once and keeps no cache of its own; the check
    itself runs inside the wrapped behaviour, on every call.
    """

    def __init__(self, verifier: JwtVerifier, owners: TripOwners) -> None:
        self._verifier = verifier
        self._owners = owners

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or not method.startswith(TRIP_SERVICE_PREFIX):
            return handler  # health, reflection: open
        name = method.removeprefix(TRIP_SERVICE_PREFIX)
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._unary(name, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        elif handler.unary_stream is not None:
            wrapped = grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        else:  # pragma: no cover - TripService has no client-streaming methods
            raise AuthConfigError(f"{method}: streaming shape not covered by the auth interceptor")
        return wrapped

    def _caller(self, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        return self._verifier.verify_metadata(context.invocation_metadata())

    def _unary(self, name: str, behavior: Behavior) -> Behavior:
        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            caller = self._caller(context)
            if name == "BookTrip":
                _check_customer(caller, request, "customer_id")
            elif name == "ListTrips":
                _check_customer(caller, request, "customer_id")
                if not request.customer_id and not caller.operator:
                    request.customer_id = caller.customer_id
            elif name == "CancelTrip" and not caller.operator:
                trip_id = request.trip_id
                if trip_id.startswith("trip-") and await self._owners.owned_by(trip_id, caller) is False:
                    raise NotFound(f"no trip {trip_id!r}")
            reply = await behavior(request, context)
            if name == "GetTrip" and not caller.may_act_for(reply.customer_id):
                raise NotFound(f"no trip {request.trip_id!r}")
            return reply

        return call

    def _stream(self, behavior: Behavior) -> Behavior:
        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            caller = self._caller(context)
            checked = caller.operator
            async for reply in behavior(request, context):
                if not checked:
                    # WatchTrip: the first Trip names its owner; nothing is sent to anyone else.
                    if not caller.may_act_for(reply.customer_id):
                        raise NotFound(f"no trip {request.trip_id!r}")
                    checked = True
                yield reply

        return call


def _check_customer(caller: Caller, request: Any, field: str) -> None:
    customer_id = getattr(request, field)
    if customer_id and not caller.may_act_for(customer_id):
        raise PermissionDenied(
            f"{field}: the token's subject may not act for another customer", reason="OTHER_CUSTOMER"
        )


def interceptors_from_env(client: Client, hasher: CustomerHasher | None) -> list[grpc.aio.ServerInterceptor]:
    """[AuthInterceptor] when TRIP_AUTH=jwt, else [] (nothing on the call path)."""
    verifier = JwtVerifier.from_env()
    return [] if verifier is None else [AuthInterceptor(verifier, TripOwners(client, hasher))]

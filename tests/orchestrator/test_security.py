"""The suite in secure mode, as real processes: mutual TLS on every hop, JWT callers of TripService,
encrypted payloads in Temporal, and the codec server (docs/security.md).

One stack for the module, started with the environment the secure `make up` gives every process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer
from tripbooking.flight.v1 import flight_pb2, flight_pb2_grpc
from tripbooking.trip.v1 import trip_pb2

from booking_runtime import tls
from booking_runtime.tls import TlsSettings
from orchestrator import bearer, codec
from orchestrator.worker import workflow_runner
from orchestrator.workflows import TripWorkflow
from scripts.secure_material import CertificateAuthority, SecureMaterial, make_material, make_token
from scripts.stack_process import ChildProcess
from tests.orchestrator.stack import TEMPORAL_CLI, Stack, running_stack
from tests.orchestrator.trips import CONFIRMED, SOLD_OUT_HOTEL, TripRequests
from tests.support.processes import ROOT, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

TAG = uuid.uuid4().hex[:8]
CUSTOMER = f"cust-{TAG}"  # none of these three may appear anywhere in Temporal's history
PICKUP = f"Rua Secreta {TAG}"
DROPOFF = f"Largo Escondido {TAG}"
STRANGER = f"bob-{TAG}"
book_request = TripRequests(first_day=70, prefix="sec", customer=CUSTOMER)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> SecureMaterial:
    return make_material(tmp_path_factory.mktemp("secure"), customer=CUSTOMER)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, material: SecureMaterial) -> AsyncIterator[Stack]:
    env = material.process_env()
    async with running_stack(
        tmp_path_factory.mktemp("stack"), extra_env=env, client_tls=TlsSettings.from_env(env)
    ) as running:
        yield running


def token(
    material: SecureMaterial, subject: str, roles: list[str] | None = None, seconds: float = 600
) -> str:
    return make_token(material.jwt_secret, subject, roles, seconds)


def as_(
    material: SecureMaterial, subject: str, roles: list[str] | None = None
) -> tuple[tuple[str, str], ...]:
    return bearer.metadata(token(material, subject, roles))


def private_request() -> trip_pb2.BookTripRequest:
    request = book_request()
    request.cab.pickup_address = PICKUP
    request.cab.dropoff_address = DROPOFF
    return request


@pytest.fixture(scope="module")
async def confirmed_trip(stack: Stack, material: SecureMaterial) -> trip_pb2.Trip:
    """The whole saga in secure mode: booked by the customer over mutual TLS, with their token."""
    reply = await stack.trips().BookTrip(private_request(), timeout=60, metadata=as_(material, CUSTOMER))
    assert reply.trip.status == CONFIRMED, stack.logs()
    return reply.trip


async def code_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value.code()


async def health(address: str, settings: TlsSettings) -> int:
    async with tls.aio_channel(address, settings=settings) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(reply.status)


# --- the saga and the owner's view ----------------------------------------------------------------


async def test_the_whole_saga_confirms_with_mutual_tls_tokens_and_the_codec(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip
) -> None:
    mine = as_(material, CUSTOMER)
    trips = stack.trips()
    got = await trips.GetTrip(
        trip_pb2.GetTripRequest(trip_id=confirmed_trip.trip_id), timeout=15, metadata=mine
    )
    assert got.customer_id == CUSTOMER and got.status == CONFIRMED
    watched = trips.WatchTrip(
        trip_pb2.WatchTripRequest(trip_id=confirmed_trip.trip_id), timeout=15, metadata=mine
    )
    first = await watched.read()
    assert isinstance(first, trip_pb2.Trip) and first.trip_id == confirmed_trip.trip_id
    watched.cancel()

    async def listed(customer: str) -> list[str] | None:
        reply = await trips.ListTrips(
            trip_pb2.ListTripsRequest(customer_id=customer), timeout=15, metadata=mine
        )
        ids = [t.trip_id for t in reply.trips]
        return ids if confirmed_trip.trip_id in ids else None

    # Visibility is eventually consistent; both forms find the trip (the attribute is a keyed hash).
    assert await wait_for(lambda: listed(""), what="own trips listed") is not None
    assert await wait_for(lambda: listed(CUSTOMER), what="own trips listed by id") is not None


async def test_an_operator_sees_any_trip_and_any_customers_list(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip
) -> None:
    operator = as_(material, "ops", ["operator"])
    trips = stack.trips()
    got = await trips.GetTrip(
        trip_pb2.GetTripRequest(trip_id=confirmed_trip.trip_id), timeout=15, metadata=operator
    )
    assert got.customer_id == CUSTOMER

    async def listed(customer: str) -> bool:
        reply = await trips.ListTrips(
            trip_pb2.ListTripsRequest(customer_id=customer, page_size=100), timeout=15, metadata=operator
        )
        return confirmed_trip.trip_id in [t.trip_id for t in reply.trips]

    assert await wait_for(lambda: listed(CUSTOMER), what="the operator's view of one customer")
    assert await wait_for(lambda: listed(""), what="the operator's view of everyone")


# --- refusals: transport ----------------------------------------------------------------------------


async def test_a_plaintext_client_is_refused_by_every_server(stack: Stack) -> None:
    for name in ("flight", "hotel", "cab", "trip"):
        assert await code_of(health(stack.addresses[name], TlsSettings())) == grpc.StatusCode.UNAVAILABLE


async def test_a_server_certificate_from_an_untrusted_ca_is_refused(stack: Stack, tmp_path: Path) -> None:
    rogue = tmp_path / "rogue-ca.pem"
    rogue.write_bytes(CertificateAuthority(name="rogue").cert_pem())
    settings = replace(stack.client_tls, ca=str(rogue))
    assert await code_of(health(stack.addresses["trip"], settings)) == grpc.StatusCode.UNAVAILABLE
    # The same client with the right CA gets through: the CA is what was refused.
    assert await health(stack.addresses["trip"], stack.client_tls) == health_pb2.HealthCheckResponse.SERVING


async def test_a_booking_service_refuses_a_client_without_a_trusted_certificate(
    stack: Stack, material: SecureMaterial, tmp_path: Path
) -> None:
    no_cert = TlsSettings(ca=str(material.ca))
    assert await code_of(health(stack.addresses["flight"], no_cert)) == grpc.StatusCode.UNAVAILABLE
    rogue = CertificateAuthority(name="rogue")
    cert, key = rogue.issue("intruder")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "c.key").write_bytes(key)
    foreign = TlsSettings(cert=str(tmp_path / "c.pem"), key=str(tmp_path / "c.key"), ca=str(material.ca))
    async with tls.aio_channel(stack.addresses["flight"], settings=foreign) as channel:
        search = flight_pb2_grpc.FlightServiceStub(channel).SearchFlights(
            flight_pb2.SearchFlightsRequest(), timeout=5
        )
        assert await code_of(search) == grpc.StatusCode.UNAVAILABLE


# --- refusals: callers --------------------------------------------------------------------------------


def _forged(material: SecureMaterial) -> str:
    return make_token("another-secret-that-is-32-bytes-long!!", CUSTOMER)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda m: "", id="no-token"),
        pytest.param(lambda m: "not.a.jwt", id="garbage"),
        pytest.param(_forged, id="bad-signature"),
        pytest.param(lambda m: make_token(m.jwt_secret, CUSTOMER, seconds=-120), id="expired"),
    ],
)
async def test_trip_service_refuses_a_missing_bad_or_expired_token(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip, make: Any
) -> None:
    metadata = bearer.metadata(make(material))
    get = stack.trips().GetTrip(
        trip_pb2.GetTripRequest(trip_id=confirmed_trip.trip_id), timeout=15, metadata=metadata
    )
    assert await code_of(get) == grpc.StatusCode.UNAUTHENTICATED
    book = stack.trips().BookTrip(private_request(), timeout=15, metadata=metadata)
    assert await code_of(book) == grpc.StatusCode.UNAUTHENTICATED


async def test_health_stays_open_without_a_token(stack: Stack) -> None:
    assert await health(stack.addresses["trip"], stack.client_tls) == health_pb2.HealthCheckResponse.SERVING


async def test_another_customers_trip_is_not_found_and_their_trips_are_denied(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip
) -> None:
    stranger = as_(material, STRANGER)
    trips = stack.trips()
    trip_id = confirmed_trip.trip_id
    get = trips.GetTrip(trip_pb2.GetTripRequest(trip_id=trip_id), timeout=15, metadata=stranger)
    assert await code_of(get) == grpc.StatusCode.NOT_FOUND
    cancel = trips.CancelTrip(trip_pb2.CancelTripRequest(trip_id=trip_id), timeout=15, metadata=stranger)
    assert await code_of(cancel) == grpc.StatusCode.NOT_FOUND
    watch = trips.WatchTrip(trip_pb2.WatchTripRequest(trip_id=trip_id), timeout=15, metadata=stranger)
    assert await code_of(watch.read()) == grpc.StatusCode.NOT_FOUND
    listing = trips.ListTrips(trip_pb2.ListTripsRequest(customer_id=CUSTOMER), timeout=15, metadata=stranger)
    assert await code_of(listing) == grpc.StatusCode.PERMISSION_DENIED
    own = await trips.ListTrips(trip_pb2.ListTripsRequest(), timeout=15, metadata=stranger)
    assert trip_id not in [t.trip_id for t in own.trips]
    # Booking in someone else's name starts nothing.
    theirs = private_request()
    book = trips.BookTrip(theirs, timeout=15, metadata=stranger)
    assert await code_of(book) == grpc.StatusCode.PERMISSION_DENIED
    started = await code_of_temporal(stack, f"trip-{theirs.request_id}")
    assert started == "NOT_FOUND"
    # The stranger's cancel changed nothing.
    owner = as_(material, CUSTOMER)
    still = await trips.GetTrip(trip_pb2.GetTripRequest(trip_id=trip_id), timeout=15, metadata=owner)
    assert still.status == CONFIRMED


async def code_of_temporal(stack: Stack, workflow_id: str) -> str:
    from temporalio.service import RPCError

    try:
        await stack.client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        return err.status.name
    return "OK"


# --- Temporal holds ciphertext ------------------------------------------------------------------------


async def test_temporal_history_holds_no_customer_id_or_address(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip
) -> None:
    # Read straight from the server with a client that has no codec.
    handle = stack.client.get_workflow_handle(confirmed_trip.trip_id)
    history = await handle.fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    text = history.to_json()
    for secret in (CUSTOMER, PICKUP, DROPOFF):
        assert secret.encode() not in raw and secret not in text, secret
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == codec.ENCODING
    assert (
        started.input.payloads[0].metadata[codec.METADATA_KEY_ID]
        == material.codec_keys.split(":")[0].encode()
    )
    description = await handle.describe()
    indexed = description.raw_description.workflow_execution_info.search_attributes.indexed_fields
    assert CUSTOMER.encode() not in b"".join(p.SerializeToString() for p in indexed.values())
    memo = description.raw_description.workflow_execution_info.memo.fields
    assert all(p.metadata["encoding"] == codec.ENCODING for p in memo.values())


async def test_failure_messages_are_encoded_in_history(stack: Stack, material: SecureMaterial) -> None:
    request = private_request()
    request.hotel.hotel_id = SOLD_OUT_HOTEL
    request.hotel.rooms = 3
    reply = await stack.trips().BookTrip(request, timeout=60, metadata=as_(material, CUSTOMER))
    assert reply.trip.status == trip_pb2.TRIP_STATUS_FAILED
    assert "SOLD_OUT" in reply.trip.failure_reason or reply.trip.failure_reason  # plaintext to the owner
    handle = stack.client.get_workflow_handle(reply.trip_id)

    async def closed() -> bool:  # BookTrip answers FAILED a moment before the workflow closes
        return (await handle.describe()).status == WorkflowExecutionStatus.FAILED

    await wait_for(closed, timeout=15, what="the failed trip's workflow closed")
    history = await handle.fetch_history()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]
    assert (
        failed and failed[0].workflow_execution_failed_event_attributes.failure.message == "Encoded failure"
    )
    assert "SOLD_OUT" not in history.to_json() and b"SOLD_OUT" not in history.events[-1].SerializeToString()


async def test_a_secure_history_replays_after_a_key_rotation(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip
) -> None:
    history = await stack.client.get_workflow_handle(confirmed_trip.trip_id).fetch_history()
    rotated = codec.from_env({codec.ENV_KEYS: f"{codec.new_key_entry('next')},{material.codec_keys}"})
    assert rotated is not None
    replayer = Replayer(
        workflows=[TripWorkflow], workflow_runner=workflow_runner(), data_converter=rotated.data_converter
    )
    result = await replayer.replay_workflow(
        WorkflowHistory(confirmed_trip.trip_id, list(history.events)), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure
    # Without the old key the history cannot be read: the key id in each payload is what decides.
    dropped = codec.from_env({codec.ENV_KEYS: codec.new_key_entry("next")})
    assert dropped is not None
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads
    with pytest.raises(codec.UnknownKeyError):
        await dropped.codec.decode(started)


# --- the codec server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def codec_server(
    stack: Stack, material: SecureMaterial, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    address = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in material.process_env().items() if not k.startswith("TRIP_TLS_")}
    env["TRIP_CODEC_ADDR"] = address
    log = tmp_path_factory.mktemp("codec") / "codec.log"
    process = ChildProcess.python("codec", "orchestrator.codec_server", env=env, log_path=log).start()
    url = f"http://{address}"

    async def up() -> bool:
        try:
            await asyncio.to_thread(post, url + "/decode", b'{"payloads": []}', {})
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        await wait_for(up, what="the codec server")
        yield url
    finally:
        await process.stop()


def post(
    url: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    for key, value in headers.items():
        request.add_header(key, value)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, dict(reply.headers), reply.read()


def post_status(url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        return post(url, body, headers)[0]
    except urllib.error.HTTPError as err:
        return err.code


async def test_the_codec_server_decodes_for_an_operator_and_refuses_everyone_else(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip, codec_server: str
) -> None:
    history = await stack.client.get_workflow_handle(confirmed_trip.trip_id).fetch_history()
    encrypted = history.events[0].workflow_execution_started_event_attributes.input
    body = json_format.MessageToJson(encrypted).encode()
    operator = {"Authorization": f"Bearer {token(material, 'ops', ['operator'])}"}
    status, _, decoded = await asyncio.to_thread(post, codec_server + "/decode", body, operator)
    plain = Payloads()
    json_format.Parse(decoded, plain)
    assert status == 200 and PICKUP.encode() in plain.payloads[0].data
    # Encode then decode gives back the plaintext (what the UI does when it sends a signal).
    _, _, sealed = await asyncio.to_thread(post, codec_server + "/encode", decoded, operator)
    assert PICKUP.encode() not in sealed
    _, _, opened = await asyncio.to_thread(post, codec_server + "/default/decode", sealed, operator)
    assert json.loads(opened) == json.loads(decoded)

    customer = {"Authorization": f"Bearer {token(material, CUSTOMER)}"}
    assert await asyncio.to_thread(post_status, codec_server + "/decode", body, customer) == 403
    assert await asyncio.to_thread(post_status, codec_server + "/decode", body, {}) == 401
    forged = {"Authorization": f"Bearer {_forged(material)}"}
    assert await asyncio.to_thread(post_status, codec_server + "/decode", body, forged) == 401


async def test_the_codec_server_answers_the_web_uis_cors_preflight(codec_server: str) -> None:
    headers = {"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"}
    status, reply, _ = await asyncio.to_thread(post, codec_server + "/decode", b"", headers, "OPTIONS")
    assert status == 204 and reply["Access-Control-Allow-Origin"] == "http://localhost:8233"
    assert "Authorization" in reply["Access-Control-Allow-Headers"]
    stranger = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    _, reply, _ = await asyncio.to_thread(post, codec_server + "/decode", b"", stranger, "OPTIONS")
    assert "Access-Control-Allow-Origin" not in reply


async def test_the_temporal_cli_shows_plaintext_through_the_codec_server(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip, codec_server: str
) -> None:
    argv = [
        str(TEMPORAL_CLI), "workflow", "show", "--workflow-id", confirmed_trip.trip_id,
        "--address", stack.temporal_address, "--namespace", stack.client.namespace, "--output", "json",
    ]  # fmt: skip
    plain = await run(*argv)
    assert plain[0] == 0 and PICKUP.encode() not in payload_bytes(json.loads(plain[1]))
    operator = f"Bearer {token(material, 'ops', ['operator'])}"
    decoded = await run(*argv, "--codec-endpoint", codec_server, "--codec-auth", operator)
    assert decoded[0] == 0, decoded[2]
    shown = payload_bytes(json.loads(decoded[1]))
    assert PICKUP.encode() in shown and CUSTOMER.encode() in shown


def payload_bytes(node: Any) -> bytes:
    """Every payload's data in the CLI's JSON output (base64 there), decoded and joined."""
    if isinstance(node, dict):
        own = base64.b64decode(node["data"]) if isinstance(node.get("data"), str) else b""
        return own + b"".join(payload_bytes(value) for value in node.values())
    if isinstance(node, list):
        return b"".join(payload_bytes(value) for value in node)
    return b""


async def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


# --- tripctl ----------------------------------------------------------------------------------------------


async def test_tripctl_speaks_mutual_tls_and_sends_its_token(
    stack: Stack, material: SecureMaterial, confirmed_trip: trip_pb2.Trip
) -> None:
    cert, key = material.pair("client")
    base = [sys.executable, "-m", "orchestrator.cli", "--address", stack.addresses["trip"]]
    tls_flags = ["--ca", str(material.ca), "--cert", str(cert), "--key", str(key)]
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TRIP_")}
    shown = await run(
        *base, *tls_flags, "--token", token(material, CUSTOMER), "get", confirmed_trip.trip_id, env=clean
    )
    assert shown[0] == 0, shown[2]
    assert json.loads(shown[1])["customer_id"] == CUSTOMER
    # TRIP_TOKEN and TRIP_TLS_* work as well as the flags.
    by_env = {**clean, **material.client_env()}
    listed = await run(*base, "list", env=by_env)
    assert listed[0] == 0, listed[2]
    anonymous = await run(*base, *tls_flags, "get", confirmed_trip.trip_id, env=clean)
    assert anonymous[0] == 1 and "UNAUTHENTICATED" in anonymous[2]
    plaintext = await run(
        *base, "--token", token(material, CUSTOMER), "get", confirmed_trip.trip_id, env=clean
    )
    assert plaintext[0] == 1 and "UNAVAILABLE" in plaintext[2]

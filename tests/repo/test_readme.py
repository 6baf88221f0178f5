"""The README's examples and configuration table stay true to the code.

The BookTrip example must be a request the API accepts today, naming catalog entries that exist,
and every environment variable the configuration table names must be read somewhere.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, date, datetime, timedelta

import pytest
from google.protobuf import json_format
from tripbooking.trip.v1 import trip_pb2

from booking_runtime import tracing
from booking_runtime import validation as shared
from booking_runtime.config import build_parser
from booking_runtime.errors import InvalidArgument
from orchestrator import cli
from orchestrator.config import _OPTIONS
from orchestrator.models import trip_id_for
from orchestrator.validation import MAX_REQUEST_ID_LENGTH, parse_book_request
from tests.support.processes import ROOT

README = (ROOT / "README.md").read_text()
MOVE_DATES = (
    "move the dates of the README's BookTrip examples (grpcurl and tripctl, the same dates in both) "
    f"so that they lie between today and {shared.HORIZON_DAYS} days from now"
)
SERVICES = ("flight", "hotel", "cab")
# Where the variables outside the orchestrator's and the services' settings are read (make up, tests).
OTHER_ENV_READERS = ("scripts", "tests")
# The security settings: each module names the variables it reads as string constants.
SECURITY_READERS = (
    "booking_runtime/tls.py",
    "orchestrator/auth.py",
    "orchestrator/codec.py",
    "orchestrator/codec_server.py",
    "orchestrator/cli.py",
    "orchestrator/temporal_client.py",
)


def _booktrip_json() -> str:
    match = re.search(r"-d '(\{[^']*\})' \S+ tripbooking\.trip\.v1\.TripService/BookTrip", README)
    assert match, "no `grpcurl -d '{...}' ... TripService/BookTrip` example in README.md"
    return match.group(1)


def _example_request() -> trip_pb2.BookTripRequest:
    return json_format.Parse(_booktrip_json(), trip_pb2.BookTripRequest())


def _catalog_values(service: str, field: str) -> set[str]:
    entries: list[dict[str, object]] = json.loads((ROOT / service / "catalog.json").read_text())
    return {str(entry[field]) for entry in entries}


def test_booktrip_example_is_a_valid_request_today() -> None:
    request = _example_request()
    today = datetime.now(UTC).date()
    first = min(
        date.fromisoformat(request.flight.date),
        date.fromisoformat(request.hotel.check_in),
        datetime.fromisoformat(request.cab.pickup_time.replace("Z", "+00:00")).date(),
    )
    assert first >= today, f"the example's dates have passed ({first} < {today}): {MOVE_DATES}"
    last = date.fromisoformat(request.hotel.check_out)
    assert last <= today + timedelta(days=shared.HORIZON_DAYS + 1), f"too far ahead: {MOVE_DATES}"
    try:
        trip = parse_book_request(request, now=datetime.now(UTC))
    except InvalidArgument as err:
        pytest.fail(f"the README's BookTrip example is refused: {err}")
    assert trip.request_id == request.request_id
    assert request.wait_for_outcome


def test_booktrip_example_names_catalog_entries() -> None:
    request = _example_request()
    flight, hotel, city = request.flight.flight_number, request.hotel.hotel_id, request.cab.city
    assert flight in _catalog_values("flight_svc", "flight_number"), (
        f"{flight} not in flight_svc/catalog.json"
    )
    assert hotel in _catalog_values("hotel_svc", "hotel_id"), f"{hotel} not in hotel_svc/catalog.json"
    assert city in _catalog_values("cab_svc", "city"), f"{city} not in cab_svc/catalog.json"


def test_follow_up_examples_use_the_booked_trip_id() -> None:
    request = _example_request()
    assert f'{{"trip_id": "{trip_id_for(request.request_id)}"}}' in README
    assert f'{{"customer_id": "{request.customer_id}"}}' in README


def test_tripctl_example_books_the_same_trip() -> None:
    match = re.search(r"\.venv/bin/tripctl (book (?:[^\n]*\\\n)*[^\n]*)", README)
    assert match, "no `tripctl book` example in README.md"
    args = cli._parser().parse_args(shlex.split(match.group(1).replace("\\\n", " ")))
    request = _example_request()
    same = "the tripctl example must book the same trip as the grpcurl one"
    assert (args.flight, args.date) == (request.flight.flight_number, request.flight.date), same
    assert (args.hotel, args.check_in, args.check_out) == (
        request.hotel.hotel_id,
        request.hotel.check_in,
        request.hotel.check_out,
    ), same
    assert (args.city, args.pickup_time) == (request.cab.city, request.cab.pickup_time), same
    assert args.wait


def _configuration_variables() -> list[str]:
    section = README.split("\n## Configuration\n", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "no configuration table in README.md"
    names: list[str] = []
    for row in rows:
        first_cell = row.split("|")[1]
        names += re.findall(r"`([A-Z<][A-Z0-9_<>]*)`", first_cell)
    return names


def _service_help(service: str) -> str:
    """`python -m <service>_svc --help`: each flag's help names its environment variable."""
    return build_parser(service, {}).format_help()


def _is_read(name: str) -> bool:
    """In the orchestrator's options, a booking service's --help, or read by the stack or the tests."""
    if name in {env for _, env, *_ in _OPTIONS} or name in tracing.ENDPOINT_VARIABLES:
        return True
    for service in SERVICES:
        variable = name.replace("<SVC>_", f"{service.upper()}_")
        if variable.startswith(f"{service.upper()}_"):
            return re.search(rf"\b{variable}\b", _service_help(service)) is not None
    if any(f'"{name}"' in (ROOT / path).read_text() for path in SECURITY_READERS):
        return True
    read = re.compile(rf'(environ\.get|getenv)\(\s*"{name}"|environ\["{name}"\]|env_switch\([^)]*"{name}"')
    sources = (path for folder in OTHER_ENV_READERS for path in (ROOT / folder).rglob("*.py"))
    return any(read.search(path.read_text()) for path in sources)


def test_configuration_table_names_only_variables_that_are_read() -> None:
    names = _configuration_variables()
    assert "TEMPORAL_ADDRESS" in names and "<SVC>_FAULT_RATE" in names, names
    unknown = [name for name in names if not _is_read(name)]
    assert not unknown, f"README's configuration table names variables nothing reads: {unknown}"


def test_readme_says_what_a_client_may_retry_and_with_what() -> None:
    match = re.search(r"### What a client may retry\n(.*?)\n## ", README, re.S)
    assert match, "README.md needs a 'What a client may retry' section"
    section = match.group(1)
    for words in ("`UNAVAILABLE`", "`DEADLINE_EXCEEDED`", "same `request_id`", "same `idempotency_key`",
                  "`CancelTrip` again", "`INVALID_ARGUMENT`"):  # fmt: skip
        assert words in section, words
    assert f"`request_id` at most {MAX_REQUEST_ID_LENGTH}" in section
    assert f"at most {shared.MAX_ID_LENGTH}" in section and f"at most {shared.MAX_TEXT_LENGTH}" in section

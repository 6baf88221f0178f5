"""The README stays true to the code: its examples, its map of one BookTrip, and where it sends a reader.

The BookTrip example must be a request the API accepts today, naming catalog entries that exist; every
`file: function` hop of "Follow one BookTrip" must name a function that file defines; and the saga's
code is named on the first screen. (The configuration table lives in docs/configuration.md and is
checked by test_configuration_doc.py; the grpcurl examples run in test_readme_grpcurl.py.)
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, date, datetime, timedelta

import pytest
from google.protobuf import json_format
from tripbooking.trip.v1 import trip_pb2

from booking_runtime import validation as shared
from booking_runtime.errors import InvalidArgument
from orchestrator import cli
from orchestrator.models import trip_id_for
from orchestrator.validation import MAX_REQUEST_ID_LENGTH, parse_book_request
from tests.support.processes import ROOT

README = (ROOT / "README.md").read_text()
MOVE_DATES = (
    "move the dates of the README's BookTrip examples (grpcurl and tripctl, the same dates in both) "
    f"so that they lie between today and {shared.HORIZON_DAYS} days from now"
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


def test_readme_says_what_a_client_may_retry_and_with_what() -> None:
    match = re.search(r"### What a client may retry\n(.*?)\n## ", README, re.S)
    assert match, "README.md needs a 'What a client may retry' section"
    section = match.group(1)
    for words in ("`UNAVAILABLE`", "`DEADLINE_EXCEEDED`", "same `request_id`", "same `idempotency_key`",
                  "`CancelTrip` again", "`INVALID_ARGUMENT`"):  # fmt: skip
        assert words in section, words
    assert f"`request_id` at most {MAX_REQUEST_ID_LENGTH}" in section
    assert f"at most {shared.MAX_ID_LENGTH}" in section and f"at most {shared.MAX_TEXT_LENGTH}" in section


# One screen of a terminal or a repository page, and the hops of "Follow one BookTrip".
FIRST_SCREEN_LINES = 25
HOP = re.compile(r"`([a-z_]+(?:/[a-z_]+)*\.py): ([A-Za-z_][A-Za-z0-9_.]*)`")


def test_the_first_screen_names_the_saga_code() -> None:
    first_screen = "\n".join(README.splitlines()[:FIRST_SCREEN_LINES])
    assert "orchestrator/workflows.py" in first_screen and "TripWorkflow.run" in first_screen
    assert "orchestrator/steps.py" in first_screen
    assert "(#follow-one-booktrip)" in first_screen


def _defines(path: str, dotted: str) -> bool:
    """Whether `path` defines `dotted`: a top-level function, class or constant, or Class.method."""
    source = (ROOT / path).read_text()
    *owner, name = dotted.split(".")
    definition = re.compile(rf"^([ \t]*)(?:(?:async )?def|class) {name}\b|^([ \t]*){name}\b[^=\n]*=", re.M)
    found = list(definition.finditer(source))
    if not owner:
        return any(not (m.group(1) or m.group(2)) for m in found)
    # Class.method: indented, after `class Class`.
    start = re.search(rf"^class {owner[0]}\b", source, re.M)
    return start is not None and any(m.start() > start.start() and (m.group(1) or m.group(2)) for m in found)


def test_every_hop_of_one_booktrip_names_a_function_that_exists() -> None:
    match = re.search(r"\n### Follow one BookTrip\n(.*?)\n### ", README, re.S)
    assert match, "README.md needs the 'Follow one BookTrip' map"
    hops = HOP.findall(match.group(1))
    assert len(hops) >= 10, hops
    # A bare `Class.method` (no file) belongs to the file that a hop names for that class.
    homes = {name.split(".")[0]: path for path, name in hops if "." in name}
    bare = re.findall(rf"`((?:{'|'.join(homes)})\.[A-Za-z_]+)`", match.group(1))
    hops += [(homes[name.split(".")[0]], name) for name in bare]
    missing = [f"{path}: {name}" for path, name in hops if not _defines(path, name)]
    assert not missing, f"the BookTrip map names functions that are not there: {missing}"
    files = {path for path, _ in hops}
    for path in (
        "orchestrator/servicer.py",
        "orchestrator/workflows.py",
        "orchestrator/steps.py",
        "orchestrator/activities.py",
        "flight_svc/servicer.py",
        "booking_runtime/ledger.py",
    ):
        assert path in files, f"the map skips {path}"


def test_every_folder_of_the_repository_is_in_the_folder_table() -> None:
    match = re.search(r"\n### The folders\n(.*?)\n### ", README, re.S)
    assert match, "README.md needs 'The folders'"
    named = set(re.findall(r"`([a-z_]+)/`", match.group(1)))
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    folders -= {"var", "tripbooking.egg-info", "__pycache__"}
    assert folders <= named, f"folders the README's table does not describe: {sorted(folders - named)}"


def test_readme_shows_the_demo_as_it_prints() -> None:
    match = re.search(r"\n### What `make demo` prints\n.*?```\n(.*?)```", README, re.S)
    assert match, "README.md needs the demo's output"
    output = match.group(1)
    for words in ("-> CONFIRMED", "SOLD_OUT", "flight COMPENSATED", "Nothing stays booked for this trip."):
        assert words in output, words
    # The lines the demo prints about compensation are its own words: keep them in step with the code.
    assert "Nothing stays booked for this trip." in (ROOT / "scripts" / "demo.py").read_text()


def test_readme_says_where_it_departs_from_temporal_samples() -> None:
    match = re.search(r"\n## Where this departs from Temporal's samples, and why\n(.*?)\n## ", README, re.S)
    assert match, "README.md needs 'Where this departs from Temporal's samples, and why'"
    section = match.group(1)
    for words in ("Local activities", "retry loop owned by the workflow", "sandbox off by default",
                  "Every step undone", "cancel checkpoint"):  # fmt: skip
        assert words in section, words

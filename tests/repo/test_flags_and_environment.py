"""Every process reads an on/off switch the same strict way (booking_runtime.flags).

A switch is exactly on/off, 1/0, true/false or yes/no; anything else is a usage error that names
the flag and the environment variable, whether it came from the booking services, the worker and
API, or `make up`: never a silent guess (`FLIGHT_LOG_CALLS=disabled` used to turn logging on).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from booking_runtime import flags
from booking_runtime.config import load_service_config
from orchestrator.config import parse_settings
from scripts import stack_cli as stack

WORDS = {**dict.fromkeys(flags.TRUE_WORDS, True), **dict.fromkeys(flags.FALSE_WORDS, False)}
NOT_SWITCHES = ("disabled", "enabled", "2", "nope", "o n", "none")


@pytest.mark.parametrize("word", [*WORDS, "ON", " Off ", "True", "YES"])
def test_the_switch_words_in_any_case(word: str) -> None:
    assert flags.parse_switch(word) is WORDS[word.strip().lower()]


@pytest.mark.parametrize("word", [*NOT_SWITCHES, ""])
def test_anything_else_is_refused(word: str) -> None:
    with pytest.raises(ValueError, match="not a switch"):
        flags.parse_switch(word)


def _service_log_calls(env: dict[str, str]) -> bool:
    return load_service_config("flight", [], env).log_calls


def _worker_sandbox(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> bool:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return parse_settings("python -m orchestrator.worker", "", []).workflow_sandbox


def _stack_secure(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> bool:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return bool(stack.parse_args([]).secure)


def _readers(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[str, str, Callable[[dict[str, str]], bool]]]:
    """(flag, variable, read) for one switch of each kind of process."""
    return {
        "service": ("--log-calls", "FLIGHT_LOG_CALLS", _service_log_calls),
        "worker": (
            "--workflow-sandbox",
            "TRIP_WORKFLOW_SANDBOX",
            lambda env: _worker_sandbox(env, monkeypatch),
        ),
        "stack": ("--secure", "STACK_SECURE", lambda env: _stack_secure(env, monkeypatch)),
    }


@pytest.mark.parametrize("process", ["service", "worker", "stack"])
def test_every_process_reads_a_switch_alike(process: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, variable, read = _readers(monkeypatch)[process]
    for word, meaning in WORDS.items():
        assert read({variable: word}) is meaning, (variable, word)


@pytest.mark.parametrize("process", ["service", "worker", "stack"])
@pytest.mark.parametrize("word", NOT_SWITCHES)
def test_a_bad_switch_is_a_usage_error_naming_flag_and_variable(
    process: str, word: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flag, variable, read = _readers(monkeypatch)[process]
    with pytest.raises(SystemExit) as stopped:
        read({variable: word})
    assert stopped.value.code == 2  # argparse's usage error
    error = capsys.readouterr().err
    assert flag in error and variable in error and repr(word) in error, error


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _service_log_calls({"FLIGHT_LOG_CALLS": ""}) is True
    assert _worker_sandbox({"TRIP_WORKFLOW_SANDBOX": ""}, monkeypatch) is False


def test_a_flag_wins_over_its_variable_and_is_checked_as_strictly() -> None:
    assert (
        load_service_config("flight", ["--log-calls", "off"], {"FLIGHT_LOG_CALLS": "on"}).log_calls is False
    )
    with pytest.raises(SystemExit):
        load_service_config("flight", ["--log-calls", "disabled"], {})


def test_other_values_name_their_flag_and_variable_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_service_config("flight", [], {"FLIGHT_FAULT_PHASE": "during"})
    error = capsys.readouterr().err
    assert "--fault-phase" in error and "FLIGHT_FAULT_PHASE" in error

"""Flags with an environment twin, and one strict reader of on/off switches, for every process.

The booking services, the worker and the API (and `make up`) take each setting as a flag or from its
environment variable, the flag winning. A switch is exactly one of on/off, 1/0, true/false, yes/no
(any case): anything else, such as `FLIGHT_LOG_CALLS=disabled`, is a usage error that names the flag
and the variable, never a silent guess. An empty variable counts as unset (`VAR= cmd` gives the
default).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

TRUE_WORDS = ("on", "1", "true", "yes")
FALSE_WORDS = ("off", "0", "false", "no")


def parse_switch(text: str) -> bool:
    """True for on/1/true/yes, False for off/0/false/no (any case); ValueError for anything else."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a switch: use on/off, 1/0, true/false or yes/no")


def optional_switch(text: str) -> str:
    """A switch that may be left empty (someone else decides): "", "on" or "off"."""
    if not text.strip():
        return ""
    return "on" if parse_switch(text) else "off"


def one_of(*choices: str) -> Callable[[str], str]:
    """A converter that accepts exactly `choices` (argparse checks `choices` on flags, not defaults)."""

    def choose(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return choose


def env_option(
    target: argparse._ActionsContainer,
    flag: str,
    variable: str,
    default: str,
    help: str,
    env: Mapping[str, str],
    *,
    type: Callable[[str], Any] = str,
    **kwargs: Any,
) -> None:
    """Add `flag`, defaulting to env `variable` (else `default`), with `variable` in its help.

    The default stays a string, so argparse converts it only when the flag is not given: a bad
    environment value is a usage error (naming both the flag and the variable) and never breaks
    --help.
    """
    target.add_argument(
        flag,
        default=env.get(variable) or default,
        type=_naming(type, flag, variable),
        help=f"{help} [env {variable}, default {default or 'empty'}]",
        **kwargs,
    )


def env_switch(parser: argparse.ArgumentParser, flag: str, variable: str, env: Mapping[str, str]) -> bool:
    """The default of a valueless `flag` (store_true and the like) from env `variable`; off if unset."""
    text = env.get(variable, "")
    if not text.strip():
        return False
    try:
        return parse_switch(text)
    except ValueError as err:
        parser.error(f"{flag} [env {variable}]: {err}")


def _naming(convert: Callable[[str], Any], flag: str, variable: str) -> Callable[[str], Any]:
    def converted(text: str) -> Any:
        try:
            return convert(text)
        except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
            raise argparse.ArgumentTypeError(f"{err} [from {flag} or env {variable}]") from None

    converted.__name__ = getattr(convert, "__name__", "value")
    return converted

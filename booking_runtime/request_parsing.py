"""Requests whose bytes do not parse are bad input (INVALID_ARGUMENT), not a server error.

grpc turns an exception from a request deserializer into UNKNOWN ("Unexpected DecodeError") and
logs a traceback. `tolerant` wraps a deserializer so that it never raises: bytes that do not parse
(not protobuf, a string field that is not UTF-8, ...) become an `Unparsable` request, which the
call wrapper (booking_runtime.call_log) answers with INVALID_ARGUMENT naming the field `request`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from booking_runtime.errors import InvalidArgument

REQUEST_FIELD = "request"


class Unparsable:
    """Stands in for a request whose bytes did not parse; carries only their size."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def refusal(self, message_name: str) -> InvalidArgument:
        return InvalidArgument(REQUEST_FIELD, f"{self.size} bytes that do not parse as a {message_name}")


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserializer`, returning Unparsable instead of raising; None (raw bytes) stays None."""
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # DecodeError, and anything else a parser may raise on hostile bytes
            return Unparsable(len(data))

    return parse


def message_name(method: str) -> str:
    """`/pkg.Service/Method` -> `Method` request, as a refusal names what did not parse."""
    return method.rsplit("/", 1)[-1] + " request"

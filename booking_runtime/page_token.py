"""Page tokens a server hands out, sealed so that one it did not hand out is refused at once.

A list call's cursor (Temporal's visibility token, say) goes out as `p1.` + base64url(check + cursor),
where the check is a keyed BLAKE2b digest of the cursor and of the query it pages through. A token
that was not handed out, or that belongs to another query, fails the check locally: INVALID_ARGUMENT
naming `page_token`, without a round trip to the store behind. This catches garbage and mix-ups,
not forgery: anyone can compute the digest, and the store still checks the cursor it gets back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from booking_runtime.errors import InvalidArgument

PREFIX = "p1."
MAX_TOKEN_LENGTH = 4096
_CHECK_BYTES = 12
_KEY = b"tripbooking page token v1"


def _check(cursor: bytes, scope: str) -> bytes:
    return hashlib.blake2b(scope.encode() + b"\0" + cursor, key=_KEY, digest_size=_CHECK_BYTES).digest()


def seal(cursor: bytes, scope: str) -> str:
    """The token for `cursor` of the listing `scope` (e.g. the query); empty for no next page."""
    if not cursor:
        return ""
    return PREFIX + base64.urlsafe_b64encode(_check(cursor, scope) + cursor).decode()


def unseal(token: str, scope: str, field: str = "page_token") -> bytes | None:
    """The cursor inside a token this server handed out for `scope`; None for an empty token."""
    if not token:
        return None
    refused = InvalidArgument(field, "not a token from a previous call with the same filters")
    if len(token) > MAX_TOKEN_LENGTH or not token.startswith(PREFIX):
        raise refused
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX) :].encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise refused from None
    check, cursor = raw[:_CHECK_BYTES], raw[_CHECK_BYTES:]
    if not cursor or not hmac.compare_digest(check, _check(cursor, scope)):
        raise refused
    return cursor

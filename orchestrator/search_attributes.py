"""The search attributes trips are indexed by, and their registration on a namespace.

`TripStatus` and `TripCustomerId` let ListTrips filter through Temporal visibility. A bare
`temporal server start-dev` does not know them, so the worker (and the API) register them on start-up.

A registered attribute is not usable at once: on an SQL visibility store the frontend checks names
against its cached copy of the namespace, refreshed every few seconds (at once only with the dynamic
config `system.forceSearchAttributesCacheRefreshOnRead`, which the stack turns off for speed;
temporalio/temporal#4017, #6195). So start-up also waits until the frontend accepts them: a trip
started in that window would be refused with "no mapping defined for search attribute".
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

TRIP_STATUS = SearchAttributeKey.for_keyword("TripStatus")
TRIP_CUSTOMER_ID = SearchAttributeKey.for_keyword("TripCustomerId")
ALL_KEYS = (TRIP_STATUS, TRIP_CUSTOMER_ID)
# Memo key of the trip's state as of its last status change (what ListTrips returns).
MEMO_TRIP = "trip"

log = logging.getLogger("orchestrator.temporal")


def initial(customer_id: str, status: str) -> TypedSearchAttributes:
    """The attributes a trip is started with, so it is listable before its first workflow task."""
    return TypedSearchAttributes(
        [SearchAttributePair(TRIP_STATUS, status), SearchAttributePair(TRIP_CUSTOMER_ID, customer_id)]
    )


async def ensure_search_attributes(client: Client, usable_within: float = 60.0) -> list[str]:
    """Register the missing keyword attributes on the client's namespace, wait until the frontend
    accepts them (at most `usable_within` seconds), and return the names added.

    Where the server cannot list them (the time-skipping test server) every one is added and
    "already exists" is ignored.
    """
    added = await _register_missing(client)
    await wait_until_usable(client, usable_within)
    return added


async def _register_missing(client: Client) -> list[str]:
    wanted = {key.name for key in ALL_KEYS}
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(listed.custom_attributes) | set(listed.system_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = sorted(wanted - known)
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing},
            )
        )
    except RPCError as err:
        # Another worker won the race: fine, the attributes are there.
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    return missing


async def wait_until_usable(client: Client, timeout: float) -> None:
    """Return once a visibility query naming every trip attribute is accepted.

    The check runs even when nothing was added here: another worker may have added them a moment ago,
    and the list call reads the namespace afresh while the frontend's check may still use its cache.
    """
    query = " AND ".join(f"{key.name} = ''" for key in ALL_KEYS)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            await client.count_workflows(query)
            return
        except RPCError as err:
            if err.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.PERMISSION_DENIED):
                # The time-skipping test server has no visibility; a caller may not be allowed to
                # query it. Neither is a reason not to start: a refused start will say so itself.
                log.info("cannot check the search attributes on %r: %s", client.namespace, err.message)
                return
            if err.status != RPCStatusCode.INVALID_ARGUMENT:
                raise
            if time.monotonic() + delay > deadline:
                raise RuntimeError(
                    f"search attributes {[key.name for key in ALL_KEYS]} not usable on namespace "
                    f"{client.namespace!r} after {timeout:.0f}s: {err.message}"
                ) from err
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 2)

"""The search attributes trips are indexed by, and their registration on a namespace.

`TripStatus` and `TripCustomerId` let ListTrips filter through Temporal visibility. A bare
`temporal server start-dev` does not know them, so the worker (and the API) register them on start-up.
"""

from __future__ import annotations

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


def initial(customer_id: str, status: str) -> TypedSearchAttributes:
    """The attributes a trip is started with, so it is listable before its first workflow task."""
    return TypedSearchAttributes(
        [SearchAttributePair(TRIP_STATUS, status), SearchAttributePair(TRIP_CUSTOMER_ID, customer_id)]
    )


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register the missing keyword attributes on the client's namespace; return the names added.

    Where the server cannot list them (the time-skipping test server) every one is added and
    "already exists" is ignored.
    """
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

"""How a chaos run judges the final answers its clients got (DESIGN.md, "What a client can act on").

The final answer of a call is the last one its client got after retrying UNAVAILABLE and
DEADLINE_EXCEEDED with the same request. Any other error code is a *failure answer*: it tells the client
the call did not happen.
- BookTrip, failure answer: false if the trip of that request_id carries this very body and it held all
  three bookings (it ended CONFIRMED or COMPLETED, or every step has a confirmation id, as a trip
  cancelled after confirming does). ALREADY_EXISTS for a body the trip does not carry is true.
- BookTrip, OK: the trip it names must carry this body; an outcome it reported (CONFIRMED, FAILED) must
  be where the trip went (CONFIRMED may later become CANCELLED by the client's own CancelTrip).
- CancelTrip, OK: the trip must end CANCELLED. Failure answer: false if the trip ended CANCELLED, unless
  it says so (FAILED_PRECONDITION "... already ended CANCELLED", for a retry of a cancel that worked).
Separately, UNKNOWN, INTERNAL and CANCELLED are never a final answer (an outcome the server does not know
is UNAVAILABLE): every such answer breaks `documented_codes`, whatever the trip did.
"""

from __future__ import annotations

from scripts.chaos_clients import Answer
from scripts.chaos_observe import TripView

HOLDING = frozenset({"TRIP_STATUS_CONFIRMED", "TRIP_STATUS_COMPLETED"})
UNDOCUMENTED = frozenset({"UNKNOWN", "INTERNAL", "CANCELLED"})


def held_everything(trip: TripView) -> bool:
    return trip.status in HOLDING or (len(trip.steps) == 3 and all(s.confirmation_id for s in trip.steps))


def untruthful(answer: Answer, trip: TripView | None) -> str:
    """Why `answer` says the opposite of what happened to `trip`; empty when it is truthful."""
    if answer.method == "BookTrip":
        if answer.ok:
            if trip is None:
                return "BookTrip answered OK but there is no trip"
            if trip.body != answer.body_key:
                return "BookTrip answered OK for a body that the trip does not carry"
            if answer.status == "TRIP_STATUS_FAILED" and trip.status != "TRIP_STATUS_FAILED":
                return f"BookTrip answered FAILED but the trip ended {trip.status}"
            if answer.status == "TRIP_STATUS_CONFIRMED" and trip.status not in HOLDING | {
                "TRIP_STATUS_CANCELLED"
            }:
                return f"BookTrip answered CONFIRMED but the trip ended {trip.status}"
            return ""
        same_body = trip is not None and trip.body == answer.body_key
        if trip is not None and same_body and held_everything(trip):
            return f"BookTrip answered {answer.code} but the trip booked everything (ended {trip.status})"
        return ""
    if answer.ok:
        if trip is None or trip.status != "TRIP_STATUS_CANCELLED" or answer.status != "TRIP_STATUS_CANCELLED":
            ended = None if trip is None else trip.status
            return f"CancelTrip answered OK ({answer.status}) but the trip ended {ended}"
        return ""
    if trip is not None and trip.status == "TRIP_STATUS_CANCELLED":
        says_so = answer.code == "FAILED_PRECONDITION" and "CANCELLED" in answer.message
        if not says_so:
            return f"CancelTrip answered {answer.code} but the trip ended CANCELLED"
    return ""

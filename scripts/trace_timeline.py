"""Print traces as per-trip timelines: what happened to one trip, in which process, when, and what failed.

    python -m scripts.trace_timeline                      # every trip in var/traces.jsonl
    python -m scripts.trace_timeline --trip trip-r-42     # one trip
    python -m scripts.trace_timeline --last 3             # the three most recent trips

Reads the span file that `make up` writes with STACK_OBSERVE=1 (scripts/otlp_receiver.py). Each trip
is the trace whose workflow spans carry its id (`temporalWorkflowID`); each line is one span, indented
under its parent, with its start relative to the trace's first span, its duration, its process
(`service.name`) and `!` plus the gRPC status when it failed:

    trip trip-r-42  trace 4b3f8601b58f662d...  5 processes, 26 spans, 115.8 ms
      +     0.0 ms    115.8 ms  trip-api     /tripbooking.trip.v1.TripService/BookTrip
      +     0.6 ms    113.9 ms  trip-api       StartUpdateWithStartWorkflow:TripWorkflow
      +    12.1 ms      0.0 ms  trip-worker      StartActivity:book_flight
      +    37.1 ms      4.1 ms  trip-worker        RunActivity:book_flight
      +    37.3 ms      3.8 ms  trip-worker          /tripbooking.flight.v1.FlightService/BookFlight
      +    38.9 ms      1.5 ms  flight-svc             /tripbooking.flight.v1.FlightService/BookFlight
      ...

(docs/operations.md shows a whole one.)
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import grpc

from scripts.otlp_receiver import Span
from scripts.stack_temporal import ROOT

DEFAULT_FILE = ROOT / "var" / "traces.jsonl"
CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def read_spans(path: Path) -> list[Span]:
    return [Span.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def trips(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Trip id -> every span of its trace(s), oldest first."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    result: dict[str, list[Span]] = defaultdict(list)
    for trace_spans in by_trace.values():
        trip_ids = {
            str(s.attributes["temporalWorkflowID"])
            for s in trace_spans
            if "temporalWorkflowID" in s.attributes
        }
        for trip_id in trip_ids:
            result[trip_id].extend(trace_spans)
    for trip_spans in result.values():
        trip_spans.sort(key=lambda s: (s.start_ns, s.end_ns))
    return dict(result)


def tree_order(spans: list[Span]) -> list[tuple[int, Span]]:
    """(depth, span) with every span right under its parent, siblings by start time.

    Temporal stamps workflow spans (StartActivity, ...) with the workflow task's time, so a step's
    StartActivity may carry an earlier time than the previous step's call: by start time alone the
    steps would interleave, under their parents they read in order.
    """
    ids = {s.span_id for s in spans}
    children: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        children[span.parent_id if span.parent_id in ids else ""].append(span)
    ordered: list[tuple[int, Span]] = []
    stack = [(0, span) for span in sorted(children[""], key=_start, reverse=True)]
    while stack:
        depth, span = stack.pop()
        ordered.append((depth, span))
        stack += [(depth + 1, child) for child in sorted(children[span.span_id], key=_start, reverse=True)]
    return ordered


def _start(span: Span) -> tuple[int, int]:
    return span.start_ns, span.end_ns


def _status(span: Span) -> str:
    code = span.attributes.get("rpc.grpc.status_code")
    if isinstance(code, int) and code != 0:
        return f"  ! {CODE_NAMES.get(code, code)}"
    return "  ! error" if span.error else ""


def format_trip(trip_id: str, spans: list[Span]) -> str:
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    services = {s.service for s in spans}
    traces = sorted({s.trace_id for s in spans})
    lines = [
        f"trip {trip_id}  trace {', '.join(t[:16] + '...' for t in traces)}  {len(services)} processes, "
        f"{len(spans)} spans, {(end - start) / 1e6:.1f} ms"
    ]
    for depth, span in tree_order(spans):
        offset = (span.start_ns - start) / 1e6
        duration = (span.end_ns - span.start_ns) / 1e6
        indent = "  " * depth
        lines.append(
            f"  +{offset:8.1f} ms {duration:8.1f} ms  {span.service:<12} {indent}{span.name}{_status(span)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.trace_timeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--file", type=Path, default=DEFAULT_FILE, help="span file (default var/traces.jsonl)"
    )
    parser.add_argument("--trip", default=None, help="only this trip id (trip-<request_id>)")
    parser.add_argument("--last", type=int, default=None, help="only the N most recent trips")
    args = parser.parse_args(argv)
    if not args.file.exists():
        print(f"no span file at {args.file}: run `STACK_OBSERVE=1 make up` and book a trip", file=sys.stderr)
        return 1
    found = trips(read_spans(args.file))
    if args.trip is not None:
        found = {k: v for k, v in found.items() if k == args.trip}
        if not found:
            print(f"no spans of {args.trip} in {args.file}", file=sys.stderr)
            return 1
    ordered = sorted(found.items(), key=lambda item: item[1][0].start_ns)
    if args.last is not None:
        ordered = ordered[-args.last :]
    print("\n\n".join(format_trip(trip_id, spans) for trip_id, spans in ordered))
    return 0


if __name__ == "__main__":
    sys.exit(main())

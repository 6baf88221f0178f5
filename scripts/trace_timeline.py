"""Print traces as per-trip timelines: what happened to one trip, in which process, when, and what failed.

    python -m scripts.trace_timeline                      # every trip in var/traces.jsonl
    python -m scripts.trace_timeline --trip trip-r-42     # one trip
    python -m scripts.trace_timeline --last 3             # the three most recent trips

Reads the span file that `make up` writes with STACK_OBSERVE=1 (scripts/otlp_receiver.py). Each trip
is the trace whose workflow spans carry its id (`temporalWorkflowID`); each line is one span, indented
under its parent, with its start relative to the trace's first span, its duration, its process
(`service.name`) and `!` plus the gRPC status when it failed:

    trip trip-r-42  trace 5f0c...  4 processes, 31 spans, 184.2 ms
      +0.0 ms    182.9 ms  trip-api     tripbooking.trip.v1.TripService/BookTrip
      +1.1 ms      0.0 ms  trip-api       StartWorkflow:TripWorkflow
      ...
     +80.4 ms      1.2 ms  cab-svc        tripbooking.cab.v1.CabService/ScheduleCab  ! FAILED_PRECONDITION
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


def _depths(spans: list[Span]) -> dict[str, int]:
    parents = {s.span_id: s.parent_id for s in spans}
    depths: dict[str, int] = {}
    for span in spans:
        depth, parent, seen = 0, span.parent_id, set()
        while parent in parents and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = parents[parent]
        depths[span.span_id] = depth
    return depths


def _status(span: Span) -> str:
    code = span.attributes.get("rpc.grpc.status_code")
    if isinstance(code, int) and code != 0:
        return f"  ! {CODE_NAMES.get(code, code)}"
    return "  ! error" if span.error else ""


def format_trip(trip_id: str, spans: list[Span]) -> str:
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    depths = _depths(spans)
    services = {s.service for s in spans}
    traces = sorted({s.trace_id for s in spans})
    lines = [
        f"trip {trip_id}  trace {', '.join(t[:16] + '...' for t in traces)}  {len(services)} processes, "
        f"{len(spans)} spans, {(end - start) / 1e6:.1f} ms"
    ]
    for span in spans:
        offset = (span.start_ns - start) / 1e6
        duration = (span.end_ns - span.start_ns) / 1e6
        indent = "  " * depths[span.span_id]
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

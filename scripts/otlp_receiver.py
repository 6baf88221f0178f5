"""A minimal OTLP/gRPC trace receiver: the collector's TraceService, keeping spans in memory or a file.

`make up` with STACK_OBSERVE=1 runs one inside the stack runner and appends every span, one JSON
object per line, to var/traces.jsonl (scripts/trace_timeline.py prints it as per-trip timelines); the
tracing test runs one inside the test process. A real deployment points OTEL_EXPORTER_OTLP_ENDPOINT at
an OpenTelemetry Collector, Jaeger or Tempo instead: the processes cannot tell the difference.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2


@dataclass(frozen=True)
class Span:
    """One received span, flattened: what the timeline and the tests read."""

    trace_id: str
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, line: str) -> Span:
        return cls(**json.loads(line))


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind in (None, "kvlist_value", "bytes_value"):
        return None
    return getattr(value, kind)


def spans_of(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Span]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name", "?"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        service=service,
                        name=span.name,
                        kind=span.kind,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        error=span.status.code == span.status.STATUS_CODE_ERROR,
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                    )
                )
    return spans


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver.add(spans_of(request))
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """`await start()` on `address` (port 0: any free one); spans land in `spans` and, if given, `path`."""

    def __init__(self, address: str = "127.0.0.1:0", path: Path | None = None, *, keep: bool = True) -> None:
        self.address = address
        self.path = path
        self.keep = keep  # keep spans in memory (tests); a long `make up` writes them to `path` only
        self.port = 0
        self.spans: list[Span] = []
        self._file: TextIO | None = None
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self._server)

    @property
    def endpoint(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT must say to reach this receiver (plaintext)."""
        host = self.address.rpartition(":")[0] or "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def start(self) -> OtlpReceiver:
        self.port = self._server.add_insecure_port(self.address)
        if self.port == 0:
            raise OSError(f"OTLP receiver: cannot listen on {self.address}")
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        await self._server.start()
        return self

    def add(self, spans: list[Span]) -> None:
        if self.keep:
            self.spans.extend(spans)
        if self._file is not None:
            self._file.write("".join(span.to_json() + "\n" for span in spans))
            self._file.flush()

    async def stop(self) -> None:
        await self._server.stop(1.0)
        if self._file is not None:
            self._file.close()
            self._file = None

"""What grpcurl does, in Python, with no proto files: list, describe and call through reflection.

Tests use it to talk to a server exactly as an operator with grpcurl would: the only thing it
knows is the address; every message type comes from the server's reflection service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from booking_runtime import status_details

JsonDict = dict[str, Any]

D = TypeVar("D", bound=Message)


class ReflectionClient:
    """A reflection-driven client for one channel; descriptors are fetched once and cached."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        self._pool = descriptor_pool.DescriptorPool()
        self._files: set[str] = set()
        self._symbols: set[str] = set()

    async def _ask(self, request: reflection_pb2.ServerReflectionRequest) -> Any:
        async def one() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield request

        call = self._stub.ServerReflectionInfo(one())
        async for reply in call:
            if reply.HasField("error_response"):
                raise LookupError(reply.error_response.error_message)
            return reply
        raise LookupError("empty reflection reply")

    async def list_services(self) -> list[str]:
        """Full names of every service the server exposes (like `grpcurl list`)."""
        reply = await self._ask(reflection_pb2.ServerReflectionRequest(list_services=""))
        return sorted(service.name for service in reply.list_services_response.service)

    async def file_descriptors(self, symbol: str) -> list[descriptor_pb2.FileDescriptorProto]:
        """The file defining `symbol` and every file it depends on (dependencies first)."""
        reply = await self._ask(reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol))
        files = {}
        for raw in reply.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            files[proto.name] = proto
        # Fetch any dependency the server did not send along.
        missing = [dep for proto in list(files.values()) for dep in proto.dependency if dep not in files]
        while missing:
            name = missing.pop()
            if name in files:
                continue
            reply = await self._ask(reflection_pb2.ServerReflectionRequest(file_by_filename=name))
            for raw in reply.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files[proto.name] = proto
                missing.extend(dep for dep in proto.dependency if dep not in files)
        ordered: list[descriptor_pb2.FileDescriptorProto] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in files:
                return
            seen.add(name)
            for dep in files[name].dependency:
                visit(dep)
            ordered.append(files[name])

        for name in files:
            visit(name)
        return ordered

    async def _load(self, symbol: str) -> None:
        if symbol in self._symbols:
            return  # already known: no round trip
        for proto in await self.file_descriptors(symbol):
            if proto.name not in self._files:
                self._pool.Add(proto)
                self._files.add(proto.name)
        self._symbols.add(symbol)

    async def service(self, name: str) -> descriptor.ServiceDescriptor:
        await self._load(name)
        return self._pool.FindServiceByName(name)

    async def describe(self, symbol: str) -> str:
        """A short text description of a service or message (like `grpcurl describe`)."""
        await self._load(symbol)
        try:
            service = self._pool.FindServiceByName(symbol)
        except KeyError:
            message = self._pool.FindMessageTypeByName(symbol)
            lines = [f"{message.full_name} is a message:"]
            lines += [f"  {field.name} = {field.number};" for field in message.fields]
            return "\n".join(lines)
        lines = [f"{service.full_name} is a service:"]
        for method in service.methods:
            stream = "stream " if method.server_streaming else ""
            lines.append(
                f"  rpc {method.name} ( .{method.input_type.full_name} ) returns ( {stream}"
                f".{method.output_type.full_name} );"
            )
        return "\n".join(lines)

    async def _method(self, method: str) -> descriptor.MethodDescriptor:
        service_name, _, method_name = method.replace("/", ".").rpartition(".")
        service = await self.service(service_name)
        found = service.methods_by_name.get(method_name)
        if found is None:
            raise LookupError(f"{service_name} has no method {method_name}")
        return found

    def _classes(self, method: descriptor.MethodDescriptor) -> tuple[type[Message], type[Message]]:
        return (
            message_factory.GetMessageClass(method.input_type),
            message_factory.GetMessageClass(method.output_type),
        )

    async def call(
        self, method: str, request: Mapping[str, Any] | None = None, timeout: float = 10.0
    ) -> JsonDict:
        """Call a unary method ("pkg.Service/Method") with a JSON dict; return the reply as a JSON dict."""
        found = await self._method(method)
        request_cls, reply_cls = self._classes(found)
        path = f"/{found.containing_service.full_name}/{found.name}"
        callable_ = self._channel.unary_unary(
            path, request_serializer=_serialize, response_deserializer=reply_cls.FromString
        )
        reply = await callable_(json_format.ParseDict(dict(request or {}), request_cls()), timeout=timeout)
        return to_json(reply)

    async def stream(
        self, method: str, request: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> AsyncIterator[JsonDict]:
        """Call a server-streaming method; yield each reply as a JSON dict."""
        found = await self._method(method)
        request_cls, reply_cls = self._classes(found)
        path = f"/{found.containing_service.full_name}/{found.name}"
        callable_ = self._channel.unary_stream(
            path, request_serializer=_serialize, response_deserializer=reply_cls.FromString
        )
        call = callable_(json_format.ParseDict(dict(request or {}), request_cls()), timeout=timeout)
        async for reply in call:
            yield to_json(reply)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def to_json(message: Message) -> JsonDict:
    """Proto field names, defaults included, int64 as numbers: easy to assert on."""
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=True,
        unquote_int64_if_possible=True,
    )


def json_list(reply: Mapping[str, object], name: str) -> list[JsonDict]:
    """Field `name` of a JSON reply as the list of JSON objects it holds (a cast, nothing converted)."""
    return cast("list[JsonDict]", reply[name])


def json_int(reply: Mapping[str, object], name: str) -> int:
    """Field `name` of a JSON reply as an int: `int(reply[name])`, typed for the checker."""
    return int(cast("int | str", reply[name]))


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status a server attached to a failed call, if any."""
    return status_details.rich_status(error)


def _detail(error: grpc.aio.AioRpcError, cls: type[D]) -> D | None:
    """The first detail of type `cls` in the rich status of a failed call, if any."""
    return status_details.detail(error, cls)


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo detail (reason, domain, metadata) of a failed call, if any."""
    return _detail(error, error_details_pb2.ErrorInfo)


def bad_request(error: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest | None:
    """The BadRequest detail (field violations) of a failed call, if any."""
    return _detail(error, error_details_pb2.BadRequest)

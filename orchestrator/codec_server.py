"""`python -m orchestrator.codec_server`: Temporal's remote codec protocol, for operators' eyes only.

With TRIP_CODEC_KEYS the history in Temporal holds ciphertext. This server decodes it for the Web UI
(`temporal server start-dev --ui-codec-endpoint http://localhost:8081`) and the `temporal` CLI
(`--codec-endpoint http://localhost:8081 --codec-auth "Bearer $TOKEN"`):

    POST /decode  {"payloads": [{"metadata": {...base64}, "data": "base64"}]} -> the same shape, decoded
    POST /encode  the reverse (first key)

Both also answer under any prefix (`/<namespace>/decode`), as the UI may call them. CORS lets the Web
UI's origin (TRIP_CODEC_CORS_ORIGINS, default the dev server's UI on :8233) call it from the browser.
With TRIP_AUTH=jwt every call needs an operator's token: `Authorization: Bearer <JWT>`, or the
`trip_codec_token` cookie that `GET /session?token=<JWT>` sets for a browser (the UI then needs
"include cross-origin credentials"). With TRIP_TLS_CERT/TRIP_TLS_KEY it serves HTTPS.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from booking_runtime import tls
from orchestrator import codec
from orchestrator.auth import JwtVerifier, Unauthenticated

log = logging.getLogger("orchestrator.codec_server")

DEFAULT_ADDR = "localhost:8081"
DEFAULT_ORIGINS = "http://localhost:8233,http://127.0.0.1:8233"
COOKIE = "trip_codec_token"
MAX_BODY = 4 * 1024 * 1024
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


class CodecService:
    """The protocol without HTTP: decode/encode a JSON body, and who may ask."""

    def __init__(
        self, codec_: codec.EncryptionCodec, verifier: JwtVerifier | None, origins: Sequence[str]
    ) -> None:
        self.codec = codec_
        self.verifier = verifier
        self.origins = frozenset(origins)

    def transform(self, action: str, body: bytes) -> bytes:
        payloads = Payloads()
        json_format.Parse(body, payloads, ignore_unknown_fields=True)
        if action == "decode":
            result = self.codec.decode_sync(payloads.payloads)
        else:
            result = self.codec.encode_sync(payloads.payloads)
        return json_format.MessageToJson(Payloads(payloads=result), indent=None).encode()

    def authorize(self, authorization: str, cookie_header: str) -> tuple[HTTPStatus, str]:
        """OK, or 401 (no or bad token) / 403 (a valid token without the operator role)."""
        if self.verifier is None:
            return HTTPStatus.OK, ""
        token_header = authorization
        if not token_header and cookie_header:
            morsel = SimpleCookie(cookie_header).get(COOKIE)
            token_header = f"Bearer {morsel.value}" if morsel else ""
        try:
            caller = self.verifier.verify_metadata([("authorization", token_header)])
        except Unauthenticated as err:
            return HTTPStatus.UNAUTHORIZED, err.message
        if not caller.operator:
            return HTTPStatus.FORBIDDEN, "an operator token is required"
        return HTTPStatus.OK, ""


class _Handler(BaseHTTPRequestHandler):
    server_version = "tripbooking-codec"
    service: CodecService  # set on the class made by make_server

    def log_message(self, format: str, *args: Any) -> None:
        return  # one JSON line per request instead (_log)

    def _log(self, status: int) -> None:
        entry = {"ts": round(time.time(), 3), "service": "codec", "level": "info"}
        entry.update({"method": self.command, "path": urlsplit(self.path).path, "status": status})
        print(json.dumps(entry), flush=True)

    def _cors(self) -> None:
        origin = self.headers.get("Origin", "")
        if origin and origin in self.service.origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Vary", "Origin")

    def _reply(self, status: HTTPStatus, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self._cors()
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self._log(status)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._reply(status, json.dumps({"error": message}).encode())

    def do_OPTIONS(self) -> None:
        self._reply(HTTPStatus.NO_CONTENT)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/session":
            self._error(HTTPStatus.NOT_FOUND, "POST /decode or /encode")
            return
        token = (parse_qs(parts.query).get("token") or [""])[0]
        status, message = self.service.authorize(f"Bearer {token}" if token else "", "")
        if status != HTTPStatus.OK:
            self._error(status, message)
            return
        body = b'{"session": "set"}'
        self.send_response(HTTPStatus.OK)
        self.send_header("Set-Cookie", f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._log(HTTPStatus.OK)

    def do_POST(self) -> None:
        action = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]
        if action not in ("decode", "encode"):
            self._error(HTTPStatus.NOT_FOUND, "POST /decode or /encode")
            return
        status, message = self.service.authorize(
            self.headers.get("Authorization", ""), self.headers.get("Cookie", "")
        )
        if status != HTTPStatus.OK:
            self._error(status, message)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
            return
        try:
            body = self.service.transform(action, self.rfile.read(length))
        except (json_format.ParseError, DecodeError, ValueError) as err:
            self._error(HTTPStatus.BAD_REQUEST, f"cannot {action}: {str(err)[:200]}")
            return
        except Exception:  # a tampered payload: AES-GCM refuses it (InvalidTag)
            self._error(HTTPStatus.BAD_REQUEST, f"cannot {action}: payload failed authentication")
            return
        self._reply(HTTPStatus.OK, body)


def make_server(address: str, service: CodecService, tls_settings: tls.TlsSettings) -> ThreadingHTTPServer:
    host, _, port = address.rpartition(":")
    handler = type("CodecHandler", (_Handler,), {"service": service})
    server = ThreadingHTTPServer((host.strip("[]") or "localhost", int(port)), handler)
    if tls_settings.server_enabled:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_settings.cert, tls_settings.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def build(env: Mapping[str, str] | None = None) -> CodecService:
    env = os.environ if env is None else env
    protection = codec.from_env(env)
    if protection is None:
        raise SystemExit(f"codec_server: {codec.ENV_KEYS} is not set: there is nothing to decode with")
    origins = [item.strip() for item in env.get("TRIP_CODEC_CORS_ORIGINS", DEFAULT_ORIGINS).split(",")]
    return CodecService(protection.codec, JwtVerifier.from_env(env), [o for o in origins if o])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator.codec_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("TRIP_CODEC_ADDR", DEFAULT_ADDR),
        help=f"host:port to listen on (env TRIP_CODEC_ADDR, default {DEFAULT_ADDR})",
    )
    args = parser.parse_args(argv)
    service = build()
    server = make_server(args.address, service, tls.TlsSettings.from_env())
    scheme = "https" if tls.TlsSettings.from_env().server_enabled else "http"
    line = {"ts": round(time.time(), 3), "service": "codec", "level": "info", "event": "serving"}
    line.update({"address": f"{scheme}://{args.address}", "auth": service.verifier is not None})
    print(json.dumps(line), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops serve_forever the way Ctrl-C does


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    main()
    sys.exit(0)

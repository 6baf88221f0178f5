"""The secure `make up` for real (`python -m scripts.stack` with STACK_SECURE=1): it makes its material,
serves mutual TLS, needs tokens, runs the codec server with the Web UI pointed at it, the demo runs
against it as the operator, and the dev server's database on disk holds no customer id or address."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.make_up import free_ports_env, read_until, start_make_up
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.temporal


def _exports(path: Path) -> dict[str, str]:
    """The `export NAME=value` lines of var/secure/env, as a shell would set them."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
    return env


def _http(url: str, data: bytes | None = None, token: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


async def test_the_secure_stack_runs_the_demo_and_keeps_temporal_ciphertext(tmp_path: Path) -> None:
    temporal_port, ui_port, codec_port = free_port(), free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRIP_", "STACK_"))}
    env = {
        **free_ports_env(base, temporal_port),
        "STACK_SECURE": "1",
        "TRIP_CODEC_ADDR": f"localhost:{codec_port}",
    }
    state = tmp_path / "state"
    stack = await start_make_up(state, ui_port, env)
    assert stack.stdout is not None
    seen: list[str] = []
    try:
        await read_until(stack.stdout, "stack: ready", 120, seen)
        await read_until(stack.stdout, "secure material", 5, seen)
        secrets = _exports(state / "secure" / "env")
        assert secrets["TRIP_TLS_CLIENT_AUTH"] == "require" and secrets["TRIP_AUTH"] == "jwt"
        codec_url = f"http://localhost:{codec_port}"

        # The Web UI was started with the codec server as its endpoint.
        status, body = await asyncio.to_thread(_http, f"http://127.0.0.1:{ui_port}/api/v1/settings")
        assert status == 200 and codec_url in body.decode(), body[:500]
        # The codec server runs and wants an operator's token.
        assert (await asyncio.to_thread(_http, codec_url + "/decode", b'{"payloads": []}'))[0] == 401
        operator = secrets["TRIP_TOKEN_OPERATOR"]
        ok = await asyncio.to_thread(_http, codec_url + "/decode", b'{"payloads": []}', operator)
        assert ok[0] == 200

        # A plaintext client gets nothing; the demo, dialing as the operator over mutual TLS, books.
        client_env = {**env, **secrets, "TRIP_TOKEN": operator}
        del client_env["STACK_SECURE"]
        plain = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.cli", "--timeout", "5", "list",
            cwd=ROOT, env={k: v for k, v in env.items() if k != "STACK_SECURE"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await plain.communicate()
        assert plain.returncode == 1 and b"UNAVAILABLE" in err
        demo = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scripts.demo", cwd=ROOT, env=client_env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(demo.communicate(), 90)
        text = out.decode()
        assert demo.returncode == 0, text
        assert "using the stack at" in text and ": CONFIRMED" in text and ": FAILED" in text

        stack.send_signal(signal.SIGINT)
        await read_until(stack.stdout, "stack: stopped", 60, seen)
        assert await asyncio.wait_for(stack.wait(), 10) == 0
        assert "codec 0" in seen[-1]
        # The history on disk: ciphertext only (the demo's customer and addresses appear nowhere).
        on_disk = b"".join(path.read_bytes() for path in state.glob("temporal.db*"))
        for secret in (b"demo-customer", b"Lisbon Airport, Terminal 1", b"Rua de Sao Tome 12"):
            assert secret not in on_disk, secret
    finally:
        if stack.returncode is None:
            stack.kill()
            await stack.wait()

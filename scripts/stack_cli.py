"""`python -m scripts.stack` (`make up`): the command line of the stack, run in the foreground.

Reads the flags and STACK_* variables, starts `scripts.stack.Stack` on `make up`'s ports (moved by
the *_ADDR variables), prints every address, and stops everything on SIGINT or SIGTERM, or when a
child dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from booking_runtime import flags
from scripts import stack as stack_module
from scripts.stack import Stack, StackOptions
from scripts.stack_observe import ObservePorts
from scripts.stack_ports import StackPorts, port_of, ports_from_env
from scripts.stack_scale import DEFAULT_POSTGRES_DSN, Scale, parse_replicas
from scripts.stack_secure import DEFAULT_CODEC_PORT
from scripts.stack_temporal import ROOT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.stack",
        description=stack_module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--temporal",
        choices=["dev", "external"],
        default=os.environ.get("STACK_TEMPORAL", "dev"),
        help="start a dev server, or use the one at TEMPORAL_ADDRESS [env STACK_TEMPORAL]",
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=int(os.environ.get("STACK_UI_PORT") or StackPorts.ui or 0),
        help="port of the dev server's Web UI; 0: no UI (default 8233) [env STACK_UI_PORT]",
    )
    parser.add_argument("--state-dir", type=Path, default=ROOT / "var", help="databases (default var/)")
    parser.add_argument("--log-dir", type=Path, default=None, help="also write each child's log here")
    scale = parser.add_argument_group("scale-out (scripts/stack_scale.py)")
    scale.add_argument(
        "--replicas",
        type=parse_replicas,
        default=parse_replicas(os.environ.get("STACK_REPLICAS", "1")),
        help="replicas per booking service: N, or flight=N,hotel=N,cab=N; more than one runs the "
        "service on PostgreSQL [env STACK_REPLICAS]",
    )
    scale.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("STACK_WORKERS", "1")),
        help="workers [env STACK_WORKERS]",
    )
    scale.add_argument(
        "--apis",
        type=int,
        default=int(os.environ.get("STACK_APIS", "1")),
        help="API servers [env STACK_APIS]",
    )
    scale.add_argument(
        "--postgres-dsn",
        default=os.environ.get("STACK_POSTGRES_DSN", DEFAULT_POSTGRES_DSN),
        help="database (created if missing) of services with several replicas, unless their *_DB is "
        f"a DSN (default {DEFAULT_POSTGRES_DSN}) [env STACK_POSTGRES_DSN]",
    )
    parser.add_argument(
        "--secure",
        action="store_true",
        default=flags.env_switch(parser, "--secure", "STACK_SECURE", os.environ),
        help="mutual TLS, JWT callers, encrypted payloads, codec server [env STACK_SECURE=1]",
    )
    parser.add_argument(
        "--observe",
        action=argparse.BooleanOptionalAction,
        default=flags.env_switch(parser, "--observe", "STACK_OBSERVE", os.environ),
        help="traces, metrics, the worker's health and Prometheus (docs/operations.md) [env STACK_OBSERVE]",
    )
    return parser.parse_args(argv)


def describe(stack: Stack) -> str:
    """Every address a user needs, one per line."""
    more = {part: "".join(f", {a}" for a in stack.instance_addresses(part)[1:]) for part in stack.instances}
    lines = [
        f"  TripService API   {stack.addresses['api']}"
        + ("  (TLS, below)" if stack.secure else f"  (grpcurl -plaintext {stack.addresses['api']} list)")
        + more["api"],
        f"  flight service    {stack.addresses['flight']}{more['flight']}",
        f"  hotel service     {stack.addresses['hotel']}{more['hotel']}",
        f"  cab service       {stack.addresses['cab']}{more['cab']}",
        f"  Temporal          {stack.temporal_address}   namespace {stack.options.namespace}, "
        f"task queue {stack.options.task_queue}"
        + (f", {stack.options.scale.workers} workers" if stack.options.scale.workers > 1 else ""),
    ]
    if stack.ui_url:
        lines.append(f"  Temporal Web UI   {stack.ui_url}")
    if stack.secure is not None:
        lines += stack.secure.describe(stack.addresses["api"])
    if stack.observability is not None:
        lines += stack.observability.describe(stack.prometheus)
    return "\n".join(lines)


async def run_foreground(args: argparse.Namespace) -> int:
    """Start, print the addresses, and wait for a signal or a child that dies."""
    ports = ports_from_env()
    ports.ui = args.ui_port or None
    options = StackOptions(
        ports=ports,
        state_dir=args.state_dir,
        temporal=args.temporal,
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        task_queue=os.environ.get("TRIP_TASK_QUEUE", "trip-booking"),
        echo=sys.stdout,
        log_dir=args.log_dir,
        use_env_dbs=True,
        scale=Scale(**args.replicas, workers=args.workers, apis=args.apis),
        postgres_dsn=args.postgres_dsn,
        secure=args.secure,
        codec_port=port_of(os.environ.get("TRIP_CODEC_ADDR", f"localhost:{DEFAULT_CODEC_PORT}")),
        observe=ObservePorts() if args.observe else None,
    )
    stack = Stack(options)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    starting = asyncio.ensure_future(stack.start())
    stop_wait = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        print("stack: stopping before start-up finished", flush=True)
        starting.cancel()
        with contextlib.suppress(BaseException):
            await starting
        return 0
    stop_wait.cancel()
    if starting.exception() is not None:
        print(f"stack: start-up failed: {starting.exception()}", file=sys.stderr, flush=True)
        return 1
    print("stack: ready (Ctrl-C stops everything)\n" + describe(stack), flush=True)
    exited = asyncio.ensure_future(stack.wait_any_exit())
    stop_wait = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({exited, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if exited.done():
        child = exited.result()
        print(f"stack: {child.name} exited unexpectedly (code {child.returncode})",
              file=sys.stderr, flush=True)  # fmt: skip
        code = 1
    else:
        exited.cancel()
    print("stack: stopping", flush=True)
    codes = await stack.stop()
    print("stack: stopped (" + ", ".join(f"{name} {rc}" for name, rc in codes.items()) + ")", flush=True)
    return code


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.exit(asyncio.run(run_foreground(args)))


if __name__ == "__main__":
    main()

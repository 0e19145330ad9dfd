"""`dataplane up`: the whole data plane on this machine, no cluster needed.

Runs the control plane (store, controller, autoscaler, local runtime, control
API) in this process and the activator — the router every request enters by —
as a child process with an event loop of its own. Prints one line per event on
stdout (pods, scale decisions, cold starts, shed requests) unless ``-q``;
errors go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from dataplane import logs
from dataplane.platform.local.home import default_home, token_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=int(os.environ.get("DATAPLANE_PORT", "8080")), help="where requests enter (default 8080)")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("DATAPLANE_API_PORT", "8081")), help="control API for the CLI (default 8081)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the router (default 127.0.0.1)")
    parser.add_argument(
        "--home",
        type=Path,
        default=default_home(),
        help="state, logs and the control API token (default $DATAPLANE_HOME or ~/.dataplane)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no event lines (pods started/ready/stopped, scale decisions, cold starts, shed requests)")
    logs.add_arguments(parser, default_format=logs.TEXT)
    parser.add_argument("--drain-quiet", type=float, default=1.0, help="seconds a stopping pod's queue-proxy waits without new requests")


def run(args: argparse.Namespace) -> int:
    try:
        args.log_format, args.log_level = logs.setup_from_args(args, "up", logs.TEXT)
    except ValueError as exc:
        print(f"dataplane up: {exc}", file=sys.stderr)
        return 2
    import uvloop

    try:
        return uvloop.run(serve(args))
    except OSError as exc:
        print(f"dataplane up: {exc}", file=sys.stderr)
        return 1


async def serve(args: argparse.Namespace) -> int:
    from dataplane.console.app import Console, address
    from dataplane.platform.local.controlplane import ControlPlane
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    echo = None if args.quiet else (lambda line: print(line, flush=True))
    fmt, level = args.log_format, args.log_level
    plane = ControlPlane(args.home, args.port, drain_quiet=args.drain_quiet, echo=echo, log_format=fmt, log_level=level)
    try:
        await plane.start("127.0.0.1", args.api_port, extra_routes=Console().add_routes)
    except OSError:
        await plane.stop()
        raise
    api = f"http://127.0.0.1:{args.api_port}"
    # the token goes in the environment, which other users cannot read, rather than in argv, which `ps` shows
    activator_env = dict(os.environ, ACTIVATOR_AUTOSCALER_TOKEN=plane.token)
    tracing = plane.api_config.observability.tracing
    activator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dataplane", "activator",
        "--bind", args.host, "--port", str(args.port), "--metrics-port", "0",
        "--directory", f"{api}/v1/directory",
        "--autoscaler", f"ws://127.0.0.1:{args.api_port}/autoscaler/stats",
        "--pod-name", "activator-local", "--drain-delay", "0",
        "--metrics-dialect", plane.api_config.observability.metrics_dialect,
        "--tracing-protocol", tracing.protocol, "--tracing-endpoint", tracing.endpoint,
        "--tracing-sampling-rate", repr(tracing.sampling_rate),
        "--log-format", fmt, "--log-level", plane.api_config.logging.levels.get("activator", level),
        env=activator_env,
    )  # fmt: skip
    where = f"control API on {api} (token in {token_path(args.home)}), state in {args.home}"
    print(f"dataplane is up: requests on http://{args.host}:{args.port}, {where}", flush=True)
    # the token rides in the fragment, which browsers never send: see dataplane/console/app.py
    print(f"console: {address(api, plane.token)}", flush=True)
    waiter = asyncio.ensure_future(activator.wait())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if waiter.done():
        print(f"dataplane up: the activator exited with {activator.returncode}", file=sys.stderr)
        code = 1
    else:
        activator.send_signal(signal.SIGTERM)
        await waiter
    stopper.cancel()
    print("dataplane: stopping pods (drained)...", flush=True)
    await plane.stop()
    return code

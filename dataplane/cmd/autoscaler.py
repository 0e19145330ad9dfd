"""`dataplane autoscaler`: the KPA autoscaler as its own process.

Follows a directory URL for revisions and pods, scrapes the pods' queue-proxies,
takes activator stats on its WebSocket, and serves decisions over HTTP; with
``--scale-url`` it also POSTs every changed decision there. SIGHUP re-reads
``--config``; SIGTERM and SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from dataplane import logs
from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.api.errors import ConfigError
from dataplane.autoscaler.configfile import ConfigFileError, follow_mount, load_config, reload
from dataplane.dialects import choose_dialect


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's flags; environment variables give the defaults."""
    env = os.environ.get
    logs.add_arguments(parser)
    parser.add_argument("--bind", default=env("AUTOSCALER_BIND", "0.0.0.0"), help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=int(env("AUTOSCALER_PORT", "8080")), help="stat server and API port (Knative: 8080)"
    )
    parser.add_argument("--directory", default=env("AUTOSCALER_DIRECTORY_URL", ""), help="URL of the directory snapshots")
    parser.add_argument(
        "--config", default=env("AUTOSCALER_CONFIG", ""), help="YAML or JSON file of config-autoscaler data (or the whole ConfigMap)"
    )
    parser.add_argument(
        "--metrics-dialect",
        default=None,
        help="metric names: opencensus (default) or opentelemetry (default: $METRICS_DIALECT, config-observability's metrics-dialect)",
    )
    parser.add_argument(
        "--scale-url", default=env("AUTOSCALER_SCALE_URL", ""), help="POST each changed decision as JSON to this URL"
    )


def starting_config(path: str) -> dict[str, str]:
    """The ``config-autoscaler`` data to start with; ``ConfigError``/``ConfigFileError`` when there is none.

    A file given by hand that is invalid stops the start (exit 2). A mounted
    ConfigMap (a directory) that is invalid got past the webhook (it was down, or
    the map predates it): exiting would crash-loop the pod on it, so the
    autoscaler starts on Knative's defaults, says so, and takes the map once fixed.
    """
    config = load_config(path) if path else {}
    try:
        AutoscalerConfig.from_map(config)  # fail at start, not on the first tick
    except ConfigError as exc:
        if not os.path.isdir(path):
            raise
        print(f"autoscaler: {exc}; starting with the defaults until it is fixed", file=sys.stderr, flush=True)
        return {}
    return config


def run(args: argparse.Namespace) -> int:
    """Run until SIGTERM; 2 for bad flags or configuration, 1 if the port cannot be bound."""
    if not args.directory:
        print("autoscaler: --directory (or AUTOSCALER_DIRECTORY_URL) is required", file=sys.stderr)
        return 2
    from dataplane.http.fetch import FetchError, split_url

    try:
        split_url(args.directory)
    except FetchError as exc:
        print(f"autoscaler: --directory: {exc}", file=sys.stderr)
        return 2
    try:
        logs.setup_from_args(args, "autoscaler")
        args.metrics_dialect = choose_dialect(
            args.metrics_dialect, os.environ.get("METRICS_DIALECT"), logging.getLogger("dataplane.autoscaler").warning
        )
    except ValueError as exc:
        print(f"autoscaler: {exc}", file=sys.stderr)
        return 2
    try:
        config = starting_config(args.config)
    except (ConfigFileError, ConfigError) as exc:
        print(f"autoscaler: {exc}", file=sys.stderr)
        return 2
    import uvloop

    try:
        uvloop.run(serve(args, config))
    except OSError as exc:
        print(f"autoscaler: {exc}", file=sys.stderr)
        return 1
    return 0


async def serve(args: argparse.Namespace, config: dict[str, str]) -> None:
    """Run the service, its HTTP server and the directory follower until a stop signal."""
    from aiohttp import web

    from dataplane.autoscaler.api import build_app
    from dataplane.autoscaler.publisher import HttpScalePublisher
    from dataplane.autoscaler.service import AutoscalerService
    from dataplane.directory import DirectoryError, parse_snapshot
    from dataplane.directory.follow import follow_directory
    from dataplane.guard import Guard

    loop = asyncio.get_running_loop()
    publisher = HttpScalePublisher(args.scale_url) if args.scale_url else None
    service = AutoscalerService(publisher, config)
    # No browser should ever reach the autoscaler: pages (any Origin) are refused. Host is not checked, as
    # a cluster reaches it by names it does not know; with AUTOSCALER_TOKEN set, stat senders must present it.
    guard = Guard(token=os.environ.get("AUTOSCALER_TOKEN", ""), token_hint="the autoscaler's AUTOSCALER_TOKEN")
    runner = web.AppRunner(build_app(service, guard, dialect=lambda: args.metrics_dialect), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    tasks: list[asyncio.Task] = []
    try:
        await web.TCPSite(runner, args.bind, args.port).start()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        if args.config:
            loop.add_signal_handler(signal.SIGHUP, reload, service, args.config)
            if os.path.isdir(args.config):
                tasks.append(loop.create_task(follow_mount(service, args.config)))
        tasks.append(
            loop.create_task(
                follow_directory(args.directory, lambda doc: service.apply(parse_snapshot(doc).revisions.values()), DirectoryError)
            )
        )
        if publisher is not None:
            tasks.append(loop.create_task(publisher.run()))
        service.start()
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        await service.close()

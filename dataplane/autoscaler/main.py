"""`dataplane autoscaler`: the KPA autoscaler as its own process.

Follows a directory URL for revisions and pods, scrapes the pods' queue-proxies,
takes activator stats on its WebSocket, and serves decisions over HTTP; with
``--scale-url`` it also POSTs every changed decision there. SIGHUP re-reads
``--config``; SIGTERM and SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping

import yaml

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.api.errors import ConfigError


class ConfigFileError(ValueError):
    """A ``--config`` file that cannot be read as ``config-autoscaler`` data."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's flags; environment variables give the defaults."""
    env = os.environ.get
    parser.add_argument("--bind", default=env("AUTOSCALER_BIND", "0.0.0.0"), help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=int(env("AUTOSCALER_PORT", "8080")), help="stat server and API port (Knative: 8080)"
    )
    parser.add_argument("--directory", default=env("AUTOSCALER_DIRECTORY_URL", ""), help="URL of the directory snapshots")
    parser.add_argument(
        "--config", default=env("AUTOSCALER_CONFIG", ""), help="YAML or JSON file of config-autoscaler data (or the whole ConfigMap)"
    )
    parser.add_argument(
        "--scale-url", default=env("AUTOSCALER_SCALE_URL", ""), help="POST each changed decision as JSON to this URL"
    )


def load_config(path: str) -> dict[str, str]:
    """``config-autoscaler`` data from a YAML/JSON file (a flat mapping, or a ConfigMap with ``data``),
    or from a directory with one file per key, as Kubernetes mounts a ConfigMap."""
    if os.path.isdir(path):
        return _load_config_dir(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigFileError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not YAML or JSON: {exc}") from None
    if doc is None:
        return {}
    if isinstance(doc, Mapping) and isinstance(doc.get("data"), Mapping) and "kind" in doc:
        doc = doc["data"]
    if not isinstance(doc, Mapping):
        raise ConfigFileError(f"{path}: must be a mapping of config-autoscaler keys")
    data: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, bool):  # YAML reads `true` as a bool; ConfigMap data is strings
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise ConfigFileError(f"{path}: {key}: must be a string, number or boolean")
        data[str(key)] = value
    return data


def _load_config_dir(path: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        # the mount's own bookkeeping (..data, ..2026_...) is hidden; keys are plain files
        if name.startswith(".") or not os.path.isfile(full):
            continue
        try:
            with open(full, encoding="utf-8") as f:
                data[name] = f.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"{full}: {exc}") from None
    return data


def run(args: argparse.Namespace) -> int:
    """Run until SIGTERM; 2 for bad flags or configuration, 1 if the port cannot be bound."""
    if not args.directory:
        print("autoscaler: --directory (or AUTOSCALER_DIRECTORY_URL) is required", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config) if args.config else {}
        AutoscalerConfig.from_map(config)  # fail at start, not on the first tick
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
    runner = web.AppRunner(build_app(service, guard), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    tasks: list[asyncio.Task] = []
    try:
        await web.TCPSite(runner, args.bind, args.port).start()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        if args.config:
            loop.add_signal_handler(signal.SIGHUP, _reload, service, args.config)
            if os.path.isdir(args.config):
                tasks.append(loop.create_task(_follow_mount(service, args.config)))
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


async def _follow_mount(service, path: str, every: float = 10.0) -> None:
    """Kubernetes updates a mounted ConfigMap in place: re-read it when its content changes."""
    last = load_config(path)
    while True:
        await asyncio.sleep(every)
        try:
            current = load_config(path)
        except ConfigFileError:
            continue
        if current != last:
            last = current
            _reload(service, path)


def _reload(service, path: str) -> None:
    try:
        service.update_config(load_config(path))
    except (ConfigFileError, ConfigError) as exc:
        print(f"autoscaler: keeping the previous configuration: {exc}", file=sys.stderr, flush=True)

"""`dataplane activator`: buffers requests through scale-from-zero; locally it is also the router."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import socket
import sys
from dataclasses import dataclass

from dataplane.activator.events import ActivatorEvents
from dataplane.activator.policy import ActivatorPolicy
from dataplane.activator.reporter import StatReporter
from dataplane.activator.state import ActivatorState
from dataplane.activator.throttler import QueueLimits
from dataplane.directory import DirectoryError, parse_snapshot
from dataplane.http.engine import EngineConfig
from dataplane.http.endpoints import LocalEndpoints
from dataplane.http.server import http2_on_demand, listen


@dataclass(frozen=True)
class ActivatorSettings:
    """How the activator runs; flags override the ACTIVATOR_* environment variables."""

    bind: str = "0.0.0.0"
    """Address of the serving and metrics servers."""
    port: int = 8012
    """Serving port (Knative: 8012; the local router uses 8080)."""
    metrics_port: int = 9090
    """Prometheus metrics."""
    directory_url: str = ""
    """Where revisions, pods and routes come from (long-polled JSON snapshots)."""
    autoscaler_url: str = ""
    """WebSocket of the autoscaler's stat server (stats are dropped when empty)."""
    autoscaler_token: str = ""
    """Bearer token the stat server asks for, if any (ACTIVATOR_AUTOSCALER_TOKEN only: a flag would show in `ps`)."""
    pod_name: str = ""
    """Name stamped into the stats this activator reports."""
    probe_interval: float = 0.025
    """Seconds between probes of a pod that is not ready yet."""
    probe_timeout: float = 11.0
    """Seconds one probe may take. A queue-proxy holds a health check until its app is ready (up to
    10 s), so a probe that outlasts that wait hears of readiness the moment it happens."""
    limits: QueueLimits = QueueLimits()
    drain_delay: float = 45.0
    """After SIGTERM, seconds of failing readiness (still serving) before the listener closes."""
    report_interval: float = 1.0
    """Seconds between stat reports to the autoscaler."""
    max_headers: int = 100
    """Most header field lines in a request head (431 beyond)."""
    trust_revision_headers: bool = False
    """Route by a request's ``Knative-Serving-Revision``/``-Namespace`` headers, and keep what the hop in front
    says in ``K-Original-Host``, ``Knative-Serving-Tag``/``-Default-Route`` and ``X-Forwarded-Proto``. Only behind a
    hop of the platform that sets them (the Gateway on Kubernetes); off (the router), a client's copies are ignored
    and dropped."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--bind", default=env("ACTIVATOR_BIND", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(env("ACTIVATOR_PORT", "8012")))
    parser.add_argument("--metrics-port", type=int, default=int(env("ACTIVATOR_METRICS_PORT", "9090")))
    parser.add_argument("--directory", default=env("ACTIVATOR_DIRECTORY_URL", ""), help="URL of the directory snapshots")
    parser.add_argument("--autoscaler", default=env("ACTIVATOR_AUTOSCALER_URL", ""), help="ws:// URL of the autoscaler's stat server")
    parser.add_argument("--pod-name", default=env("POD_NAME", socket.gethostname()))
    parser.add_argument("--probe-interval", type=float, default=float(env("ACTIVATOR_PROBE_INTERVAL", "0.025")))
    parser.add_argument("--probe-timeout", type=float, default=float(env("ACTIVATOR_PROBE_TIMEOUT", "11.0")))
    parser.add_argument("--max-queued", type=int, default=int(env("ACTIVATOR_MAX_QUEUED", "10000")), help="waiting requests per revision")
    parser.add_argument("--max-queued-bytes", type=int, default=int(env("ACTIVATOR_MAX_QUEUED_BYTES", str(64 << 20))))
    parser.add_argument("--max-wait", type=float, default=float(env("ACTIVATOR_MAX_WAIT", "600")), help="seconds a request may wait for capacity")
    parser.add_argument("--drain-delay", type=float, default=float(env("ACTIVATOR_DRAIN_DELAY", "45")))
    parser.add_argument(
        "--max-headers", type=int, default=int(env("ACTIVATOR_MAX_HEADERS", "100")), help="header lines per request (431 beyond)"
    )
    parser.add_argument(
        "--trust-revision-headers",
        action="store_true",
        default=env("ACTIVATOR_TRUST_REVISION_HEADERS", "") in ("1", "true"),
        help="route by Knative-Serving-Revision/-Namespace (only behind a Gateway that sets them)",
    )


def settings_from(args: argparse.Namespace) -> ActivatorSettings:
    for name in ("max_queued", "max_queued_bytes", "max_headers"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1")
    return ActivatorSettings(
        bind=args.bind,
        port=args.port,
        metrics_port=args.metrics_port,
        directory_url=args.directory,
        autoscaler_url=args.autoscaler,
        autoscaler_token=os.environ.get("ACTIVATOR_AUTOSCALER_TOKEN", ""),
        pod_name=args.pod_name,
        probe_interval=args.probe_interval,
        probe_timeout=args.probe_timeout,
        limits=QueueLimits(args.max_queued, args.max_queued_bytes, args.max_wait),
        drain_delay=args.drain_delay,
        max_headers=args.max_headers,
        trust_revision_headers=args.trust_revision_headers,
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except ValueError as exc:
        print(f"activator: {exc}", file=sys.stderr)
        return 2
    if not settings.directory_url:
        print("activator: --directory (or ACTIVATOR_DIRECTORY_URL) is required", file=sys.stderr)
        return 2
    from dataplane.activator.links import check_ws_url
    from dataplane.http.fetch import FetchError, split_url

    try:
        split_url(settings.directory_url)
        if settings.autoscaler_url:
            check_ws_url(settings.autoscaler_url)
    except FetchError as exc:
        print(f"activator: --directory: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"activator: --autoscaler: {exc}", file=sys.stderr)
        return 2
    import uvloop

    try:
        uvloop.run(Activator(settings).serve())
    except OSError as exc:
        print(f"activator: {exc}", file=sys.stderr)
        return 1
    return 0


def _scrape(conn, policy: ActivatorPolicy) -> None:
    # prometheus-client is imported at the first scrape: until then the process is about 5 MB
    # smaller, and a smaller process serves each request measurably cheaper
    from dataplane.activator.metrics import exposition

    conn.respond(200, exposition(policy), content_type=b"text/plain; version=0.0.4")


class Activator:
    def __init__(self, settings: ActivatorSettings):
        self.settings = settings
        self.stop = None

    async def serve(self) -> None:
        from dataplane.activator.links import AutoscalerLink
        from dataplane.directory.follow import follow_directory

        s = self.settings
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        link = AutoscalerLink(s.autoscaler_url, s.autoscaler_token)
        reporter = StatReporter(s.pod_name, link.send)
        state = ActivatorState(loop, s.limits, s.probe_interval, s.probe_timeout)
        policy = ActivatorPolicy(loop, state, reporter, trust_revision_headers=s.trust_revision_headers)
        state.on_removed = policy.revision_removed
        state.on_failed = policy.revision_failed
        state.on_applied = policy.directory_changed
        events = ActivatorEvents()
        state.on_cold_start = events.cold_start
        metrics = LocalEndpoints({b"/metrics": lambda conn, head: _scrape(conn, policy)})
        engine = EngineConfig(max_headers=s.max_headers)
        # HTTP/2 with prior knowledge (gRPC, h2c clients) beside HTTP/1.1, told apart by the preface
        engine = dataclasses.replace(engine, http2=http2_on_demand(loop, policy, engine))
        server = await listen(loop, policy, s.bind, s.port, engine)
        metrics_server = await listen(loop, metrics, s.bind, s.metrics_port)
        loop.add_signal_handler(signal.SIGTERM, self.stop.set)
        loop.add_signal_handler(signal.SIGINT, self.stop.set)
        tasks = [
            loop.create_task(follow_directory(s.directory_url, lambda doc: state.apply(parse_snapshot(doc)), DirectoryError)),
            loop.create_task(link.run()),
            loop.create_task(self._report(reporter, lambda: link.send_events(events.collect(policy.stats)))),
        ]
        try:
            await self.stop.wait()
            policy.draining = True
            await asyncio.sleep(s.drain_delay)  # let readiness failures reach whoever routes here
            server.close()
            policy.connections.close_idle()
            await policy.connections.wait_empty()
            reporter.report()
            link.send_events(events.collect(policy.stats))
            await link.flush(2.0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            policy.close()
            state.close()
            metrics_server.close()
            metrics.connections.close_idle()

    async def _report(self, reporter: StatReporter, push_events) -> None:
        while True:
            await asyncio.sleep(self.settings.report_interval)
            reporter.report()
            push_events()

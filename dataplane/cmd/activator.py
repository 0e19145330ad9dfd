"""`dataplane activator`: buffers requests through scale-from-zero; locally it is also the router."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass

from dataplane import logs
from dataplane.activator.events import ActivatorEvents
from dataplane.activator.policy import ActivatorPolicy
from dataplane.activator.reporter import StatReporter
from dataplane.activator.state import ActivatorState
from dataplane.activator.throttler import QueueLimits
from dataplane.dialects import DEFAULT_DIALECT, choose_dialect
from dataplane.directory import DirectoryError, parse_snapshot
from dataplane.http.engine import EngineConfig
from dataplane.http.endpoints import LocalEndpoints
from dataplane.http.server import http2_on_demand, listen
from dataplane.tracingconfig import ENDPOINT_KEY, ENV_NAMES, PROTOCOL_KEY, RATE_KEY, TracingConfig, parse_tracing


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
    """Name stamped into the stats this activator reports, and looked up among the directory's activators
    for this one's share of each revision's capacity."""
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
    metrics_dialect: str = DEFAULT_DIALECT
    """Names on the metrics port (``config-observability``'s ``metrics-dialect``): opencensus or opentelemetry."""
    tracing: TracingConfig = TracingConfig()
    """Spans over OTLP/HTTP (``config-observability``'s ``tracing-*``); off by default."""
    trust_revision_headers: bool = False
    """Route by a request's ``Knative-Serving-Revision``/``-Namespace`` headers, and keep what the hop in front
    says in ``K-Original-Host``, ``Knative-Serving-Tag``/``-Default-Route`` and ``X-Forwarded-Proto``. Only behind a
    hop of the platform that sets them (the Gateway on Kubernetes); off (the router), a client's copies are ignored
    and dropped."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    logs.add_arguments(parser)
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
        "--metrics-dialect",
        default=None,
        help="metric names: opencensus (default) or opentelemetry (default: $METRICS_DIALECT, config-observability's metrics-dialect)",
    )
    for key in (PROTOCOL_KEY, ENDPOINT_KEY, RATE_KEY):
        parser.add_argument(f"--{key}", default=None, help=f"config-observability's {key} (default: ${ENV_NAMES[key]})")
    parser.add_argument(
        "--trust-revision-headers",
        action="store_true",
        default=env("ACTIVATOR_TRUST_REVISION_HEADERS", "") in ("1", "true"),
        help="route by Knative-Serving-Revision/-Namespace (only behind a Gateway that sets them)",
    )


def _warn(message: str) -> None:
    logging.getLogger("dataplane.activator").warning("%s", message)


def choose_tracing(args: argparse.Namespace, env, warn) -> TracingConfig:
    """The tracing settings: the ``--tracing-*`` flags if any is given (``ValueError`` if bad), else the
    ``TRACING_*`` environment, where a bad value is reported through ``warn`` and tracing stays off, as a
    bad metrics dialect falls back: a tracing typo must not keep the request path down."""
    flags = (args.tracing_protocol, args.tracing_endpoint, args.tracing_sampling_rate)
    if any(flag is not None for flag in flags):
        tracing = parse_tracing(*flags, names={key: f"--{key}" for key in ENV_NAMES})
        if tracing.enabled and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ValueError(f"--tracing-protocol: {tracing.protocol} needs the OpenTelemetry SDK: install serverless-dataplane[tracing]")
        return tracing
    try:
        tracing = parse_tracing(*(env.get(ENV_NAMES[key]) for key in (PROTOCOL_KEY, ENDPOINT_KEY, RATE_KEY)))
    except ValueError as exc:
        warn(f"{exc}; tracing is off")
        return TracingConfig()
    if tracing.enabled and importlib.util.find_spec("opentelemetry.sdk") is None:
        warn(f"TRACING_PROTOCOL: {tracing.protocol} needs the OpenTelemetry SDK (serverless-dataplane[tracing]); tracing is off")
        return TracingConfig()
    return tracing


def make_policy(loop: asyncio.AbstractEventLoop, state, reporter, s: ActivatorSettings) -> ActivatorPolicy:
    """The request policy: with tracing on, its traced subclass, whose module (and the OpenTelemetry SDK)
    is imported only then; with tracing off the request path runs the plain policy and nothing more."""
    if not s.tracing.enabled:
        return ActivatorPolicy(loop, state, reporter, trust_revision_headers=s.trust_revision_headers)
    from dataplane.activator.traced import TracedActivatorPolicy
    from dataplane.tracing import Tracing

    tracing = Tracing(s.tracing, "activator", {"k8s.pod.name": s.pod_name})
    return TracedActivatorPolicy(loop, state, reporter, tracing, trust_revision_headers=s.trust_revision_headers)


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
        metrics_dialect=choose_dialect(args.metrics_dialect, os.environ.get("METRICS_DIALECT"), _warn),
        tracing=choose_tracing(args, os.environ, _warn),
    )


def run(args: argparse.Namespace) -> int:
    try:
        logs.setup_from_args(args, "activator")
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


def _scrape(conn, policy: ActivatorPolicy, events: ActivatorEvents, settings: ActivatorSettings) -> None:
    # prometheus-client is imported at the first scrape: until then the process is about 5 MB
    # smaller, and a smaller process serves each request measurably cheaper
    from dataplane.activator.metrics import render

    body = render(policy, events, settings.metrics_dialect, settings.pod_name)
    conn.respond(200, body, content_type=b"text/plain; version=0.0.4")


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
        state = ActivatorState(loop, s.limits, s.probe_interval, s.probe_timeout, s.pod_name)
        policy = make_policy(loop, state, reporter, s)
        state.on_removed = policy.revision_removed
        state.on_failed = policy.revision_failed
        state.on_applied = policy.directory_changed
        events = ActivatorEvents()
        state.on_cold_start = events.cold_start
        metrics = LocalEndpoints({b"/metrics": lambda conn, head: _scrape(conn, policy, events, s)})
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

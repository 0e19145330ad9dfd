"""The queue-proxy sidecar in front of every pod's app: its four servers, stats and metrics endpoints, and drain.

`dataplane queue-proxy` (``dataplane.cmd.queueproxy``) reads the settings and runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time

from dataplane.http.engine import EngineConfig, collect, release_memory
from dataplane.http.endpoints import LocalEndpoints
from dataplane.http.h2downstream import close_pools, http2_handler
from dataplane.http.server import listen
from dataplane.queueproxy.policy import QueueProxyPolicy
from dataplane.queueproxy.readiness import Readiness
from dataplane.queueproxy.settings import QueueProxySettings
from dataplane.stats.wire import Stat

ACCEPT = frozenset({b"accept"})
PROTOBUF = b"application/protobuf"
# a scrape within this many seconds of the last one is served the same window
MIN_WINDOW = 0.5


class StatsEndpoint:
    """The autoscaler's view: the last reporting window, protobuf or JSON."""

    def __init__(self, policy: QueueProxyPolicy, pod: str):
        self.policy = policy
        self.pod = pod
        self.started = time.monotonic()
        self.last_report = self.started
        self.stat = Stat(pod_name=pod)

    def snapshot(self) -> Stat:
        now = time.monotonic()
        elapsed = now - self.last_report
        if elapsed >= MIN_WINDOW:
            conc, proxied_conc, count, proxied_count = self.policy.collector.report()
            self.last_report = now
            self.stat = Stat(
                pod_name=self.pod,
                average_concurrent_requests=conc,
                average_proxied_concurrent_requests=proxied_conc,
                request_count=count / elapsed,
                proxied_request_count=proxied_count / elapsed,
                process_uptime=now - self.started,
            )
        return self.stat

    def handle(self, conn, head) -> None:
        stat = self.snapshot()
        accept = collect(head.headers, ACCEPT).get(b"accept", b"")
        if PROTOBUF in accept:
            conn.respond(200, stat.to_proto(), content_type=PROTOBUF)
        else:
            conn.respond(200, stat.to_json(), content_type=b"application/json")


class PrometheusEndpoint:
    """Prometheus metrics; prometheus-client is imported at the first scrape, so a sidecar that
    is never scraped does not carry it (about 5 MB of memory)."""

    def __init__(self, policy: QueueProxyPolicy):
        self.policy = policy

    def handle(self, conn, head) -> None:
        from dataplane.queueproxy.metrics import render

        body = render(self.policy, self.policy.settings.metrics_dialect)
        conn.respond(200, body, content_type=b"text/plain; version=0.0.4")


def make_policy(loop: asyncio.AbstractEventLoop, s: QueueProxySettings, readiness: Readiness) -> QueueProxyPolicy:
    """The request policy: with tracing on, its traced subclass, whose module (and the OpenTelemetry SDK) is
    imported only then; with tracing off the request path runs the plain policy and nothing more."""
    if not s.tracing.enabled:
        return QueueProxyPolicy(loop, s, readiness)
    from dataplane.queueproxy.traced import TracedQueueProxyPolicy

    return TracedQueueProxyPolicy(loop, s, readiness)


class QueueProxy:
    """The four servers of the sidecar and its drain on SIGTERM."""

    def __init__(self, settings: QueueProxySettings):
        self.settings = settings
        self.drained: asyncio.Event | None = None
        self.sigterm = False

    async def serve(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        self.drained = asyncio.Event()
        readiness = Readiness(s.probes)
        policy = self.policy = make_policy(loop, s, readiness)
        stats = StatsEndpoint(policy, s.pod)
        engine = EngineConfig(max_head_size=s.max_head_size, max_headers=s.max_headers, header_timeout=s.header_timeout)
        self.http2 = http2_handler(loop, policy, engine)
        engine = dataclasses.replace(engine, http2=self.http2)
        admin = LocalEndpoints({b"/wait-for-drain": self._wait_for_drain})
        stats_ep = LocalEndpoints({b"/metrics": stats.handle})
        metrics_ep = LocalEndpoints({b"/metrics": PrometheusEndpoint(policy).handle})
        self._tasks: set[asyncio.Task] = set()
        self._answers: set[asyncio.Task] = set()
        main = [await listen(loop, policy, s.bind_address, s.serving_port, engine)]
        if s.h2c_serving_port:
            main.append(await listen(loop, policy, s.bind_address, s.h2c_serving_port, engine))
        others = [
            await listen(loop, admin, s.bind_address, s.admin_port),
            await listen(loop, stats_ep, s.bind_address, s.stats_port),
            await listen(loop, metrics_ep, s.bind_address, s.metrics_port),
        ]
        loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        loop.add_signal_handler(signal.SIGINT, self._on_sigterm)
        startup = loop.create_task(readiness.wait_ready())
        release_memory()  # what start-up freed (mostly imports); the policy does it again after each burst
        try:
            await self.drained.wait()
            for server in main:
                server.close()
            policy.connections.close_idle()
            await policy.connections.wait_empty()
            if self._answers:  # let /wait-for-drain callers hear that the drain is over
                await asyncio.wait(self._answers, timeout=1.0)
        finally:
            startup.cancel()
            for task in self._tasks | self._answers:
                task.cancel()
            policy.close()
            close_pools(self.http2)
            for server in others:
                server.close()
            for ep in (admin, stats_ep, metrics_ep):
                ep.connections.close_idle()
            await asyncio.gather(startup, *self._tasks, *self._answers, return_exceptions=True)

    def _on_sigterm(self) -> None:
        if self.sigterm:
            return
        self.sigterm = True
        self.policy.draining = True
        # HTTP/2 clients hear at once to open no new streams here; open ones finish
        self.policy.connections.drain_http2()
        task = asyncio.get_running_loop().create_task(self._drain())
        self._tasks.add(task)

    async def _drain(self) -> None:
        """Serve on until the quiet period passes with no new request and none in flight."""
        loop = asyncio.get_running_loop()
        policy = self.policy
        quiet = self.settings.drain_quiet_period
        policy.last_request = max(policy.last_request, loop.time())
        while True:
            wait = policy.last_request + quiet - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if policy.in_flight:
                await policy.wait_idle()
                continue
            break
        self.drained.set()

    def _wait_for_drain(self, conn, head) -> None:
        task = asyncio.get_running_loop().create_task(self._answer_drain(conn))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer_drain(self, conn) -> None:
        if not self.sigterm:
            # called without our own SIGTERM (the app is restarting): don't hold it long
            await asyncio.sleep(1.0)
        if self.sigterm:
            await self.drained.wait()
        if not conn.closed and conn.head is not None:
            conn.respond(200, b"drained")

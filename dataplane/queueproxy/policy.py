"""The queue-proxy's per-request policy on the proxy engine.

Probes are answered here and never reach the app; every other request is counted
for the autoscaler, held to containerConcurrency by the breaker (FIFO queue of
10 × CC), limited by the revision's timeouts and sent to the app with Knative's
header changes. Every internal header (``dataplane.http.internal``) is dropped before
the app, once read (``K-Proxy-Request`` for the stats, ``K-Original-Host`` for the
Host); ``X-Forwarded-Proto`` is added when absent, this hop appended to
``X-Forwarded-For`` and ``Forwarded``; a request without an ``X-Request-Id`` gets one.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left

from dataplane.http.engine import UpstreamPool, collect, release_memory, request_head, with_request_id
from dataplane.http.forwarded import forwarded_hop
from dataplane.http.h2heads import h2_request_head
from dataplane.http.h2upstream import H2UpstreamPool
from dataplane.http.internal import INTERNAL
from dataplane.http.requestid import RequestIds, ensure_request_id
from dataplane.http.server import ConnectionSet
from dataplane.queueproxy.breaker import ADMITTED, QUEUED, Breaker
from dataplane.queueproxy.readiness import Readiness
from dataplane.queueproxy.settings import QueueProxySettings
from dataplane.stats.collector import Collector

# headers the policy reads, and the internal ones it must find to drop; one pass collects them
WANTED = frozenset(
    {
        b"user-agent",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"forwarded",
        b"x-request-id",
        *INTERNAL,
    }
)
PROBE_AGENTS = (b"kube-probe/", b"Knative-Activator-Probe", b"Knative-Autoscaling-Probe")

# per-request flags kept in conn.slot
PROXIED, HELD, QUEUED_FLAG = 1, 2, 4

# seconds without a request after which the C heap's free pages go back to the system
TRIM_QUIET = 2.0

# seconds; Knative's request latency buckets
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class RequestMetrics:
    """Plain counters, read by the Prometheus collector at scrape time (no locks per request)."""

    def __init__(self) -> None:
        # index = status code (three digits on the wire, so < 1000): one index per request, cheaper
        # than the status class it replaced, and both Knative label sets (code and class) come from it
        self.by_code = [0] * 1000
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.rejected_bad_input = 0
        self.queue_full = 0
        self.timeouts = 0
        self.upstream_errors = 0
        self.aborted = 0

    def observe(self, status: int, seconds: float) -> None:
        self.by_code[status] += 1
        self.latency_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds


class QueueProxyPolicy:
    """Admission, stats and header rewriting for one pod's app."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: QueueProxySettings, readiness: Readiness):
        self.loop = loop
        self.settings = settings
        self.readiness = readiness
        self.pool = UpstreamPool(loop, "127.0.0.1", settings.user_port, max_idle=settings.container_concurrency or 1000)
        # HTTP/2 requests go to an h2c app over HTTP/2, to any other translated to HTTP/1.1 (the
        # HTTP/2 protocol keeps those connections); HTTP/1.1 requests always go as HTTP/1.1
        self.h2_pool = H2UpstreamPool(loop, "127.0.0.1", settings.user_port) if settings.user_protocol == "h2c" else None
        self.host = self.pool.address.encode()
        cc = settings.container_concurrency
        self.breaker = Breaker(cc, settings.queue_depth) if cc > 0 else None
        self.collector = Collector(time.monotonic)
        self.metrics = RequestMetrics()
        self.connections = ConnectionSet()
        self.in_flight = 0
        self.draining = False
        self.last_request = loop.time()
        self._probe_tasks: set[asyncio.Task] = set()
        self._idle_waiters: list[asyncio.Future] = []
        self._trim: asyncio.TimerHandle | None = None
        self.ids = RequestIds()

    # -- engine callbacks -------------------------------------------------------------------------

    def connection_made(self, conn) -> None:
        self.connections.add(conn)

    def connection_lost(self, conn) -> None:
        self.connections.discard(conn)

    def on_request(self, conn, head) -> None:
        found = collect(head.headers, WANTED)
        if self._is_probe(found):
            self._answer_probe(conn, found)
            return
        ensure_request_id(conn, head, found, self.ids)
        proxied = found.get(b"k-proxy-request") == b"activator"
        self.collector.request_in(proxied)
        self.in_flight += 1
        self.last_request = self.loop.time()
        settings = self.settings
        conn.set_timeouts(settings.revision_timeout, settings.response_start_timeout, settings.idle_timeout)
        if head.version == 20:
            conn.upstream_head = h2_request_head(head, self._rewrites(conn, found), self.host)
        else:
            conn.upstream_head = request_head(head, self._rewrites(conn, found), head.upgrade, self.host)
        breaker = self.breaker
        if breaker is None:
            conn.slot = PROXIED if proxied else 0
            conn.forward(self._pool_for(head), conn.upstream_head)
            return
        outcome = breaker.acquire(conn)
        if outcome == ADMITTED:
            conn.slot = (PROXIED if proxied else 0) | HELD
            conn.forward(self._pool_for(head), conn.upstream_head)
        elif outcome == QUEUED:
            conn.slot = (PROXIED if proxied else 0) | QUEUED_FLAG
        else:
            conn.slot = PROXIED if proxied else 0
            self.metrics.queue_full += 1
            conn.respond(503, with_request_id(b"pending request queue full", conn.request_id))

    def on_admitted(self, conn) -> None:
        conn.slot = (conn.slot & PROXIED) | HELD
        conn.forward(self._pool_for(conn.head), conn.upstream_head)

    def _pool_for(self, head):
        if head.version == 20 and self.h2_pool is not None:
            return self.h2_pool
        return self.pool

    def on_response_start(self, conn, status: int) -> None:
        pass

    def on_done(self, conn) -> None:
        slot = conn.slot
        if slot is None:  # a probe
            return
        self._end(conn, slot)
        self.metrics.observe(conn.status, self.loop.time() - conn.started_at)

    def on_abort(self, conn) -> None:
        slot = conn.slot
        if slot is None:
            return
        self.metrics.aborted += 1
        self._end(conn, slot)

    def on_rejected(self, conn, status: int) -> None:
        self.metrics.rejected_bad_input += 1
        conn.request_id = self.ids.next()  # named in the refusal, so it can be quoted

    def on_upstream_error(self, conn, reason: str, retryable: bool) -> None:
        self.metrics.upstream_errors += 1
        conn.fail(502, reason)

    def on_timeout(self, conn) -> None:
        self.metrics.timeouts += 1
        conn.fail(504, "request timeout")

    # -- helpers ----------------------------------------------------------------------------------

    def _end(self, conn, slot: int) -> None:
        conn.slot = None
        self.collector.request_out(bool(slot & PROXIED))
        self.in_flight -= 1
        if slot & HELD:
            self.breaker.release()
        elif slot & QUEUED_FLAG:
            self.breaker.cancel(conn)
        if self.in_flight == 0:
            if self._idle_waiters:
                for fut in self._idle_waiters:
                    if not fut.done():
                        fut.set_result(None)
                self._idle_waiters.clear()
            if self._trim is None:
                self._trim = self.loop.call_at(self.last_request + TRIM_QUIET, self._trim_if_quiet)

    def _trim_if_quiet(self) -> None:
        """Once traffic has stopped, give back what the burst left on the heap (one timer per burst)."""
        self._trim = None
        if self.in_flight == 0 and self.loop.time() - self.last_request >= TRIM_QUIET:
            release_memory()
        elif self.in_flight == 0:
            self._trim = self.loop.call_at(self.last_request + TRIM_QUIET, self._trim_if_quiet)

    def _rewrites(self, conn, found: dict) -> dict:
        replace: dict[bytes, bytes | None] = {}
        for name in found:  # usually a handful: only wanted names are in it
            if name in INTERNAL:
                replace[name] = None
        xff = found.get(b"x-forwarded-for")
        peer = conn.peer_ip
        replace[b"x-forwarded-for"] = (xff + b", " + peer) if xff else peer
        # the hop in front (router, activator, Gateway) knows the scheme the client used; without
        # one the request came straight over plain HTTP
        proto = found.get(b"x-forwarded-proto")
        if proto is None:
            replace[b"x-forwarded-proto"] = b"http"
        # earlier hops from what came in, before this hop joins X-Forwarded-For (as Knative's shim)
        replace[b"forwarded"] = forwarded_hop(found.get(b"forwarded"), xff, proto, found.get(b"x-forwarded-host"), peer, b"http")
        original_host = found.get(b"k-original-host")
        if original_host is not None:
            replace[b"host"] = original_host
        return replace

    @staticmethod
    def _is_probe(found: dict) -> bool:
        if b"k-network-probe" in found or b"k-kubelet-probe" in found:
            return True
        agent = found.get(b"user-agent")
        return agent is not None and agent.startswith(PROBE_AGENTS)

    def _answer_probe(self, conn, found: dict) -> None:
        conn.slot = None
        if self.draining:
            conn.respond(503, b"shutting down")
            return
        probe = found.get(b"k-network-probe")
        if probe == b"probe":
            value = found.get(b"k-network-hash")
            if not value:
                conn.respond(400, b"a network probe needs a K-Network-Hash header")
            else:
                conn.respond(200, value)
            return
        if probe != b"queue":
            conn.respond(400, b"unexpected probe header value: " + (probe or b""))
            return
        task = self.loop.create_task(self._health(conn))
        self._probe_tasks.add(task)
        task.add_done_callback(self._probe_tasks.discard)

    async def _health(self, conn) -> None:
        ok = await self.readiness.check()
        if conn.closed or conn.head is None:
            return
        if self.draining:
            conn.respond(503, b"shutting down")
        elif ok:
            conn.respond(200, b"queue")
        else:
            conn.respond(503, b"app is not ready")

    # -- drain ------------------------------------------------------------------------------------

    async def wait_idle(self) -> None:
        """Until no request is in flight."""
        if self.in_flight == 0:
            return
        fut = self.loop.create_future()
        self._idle_waiters.append(fut)
        await fut

    def close(self) -> None:
        if self._trim is not None:
            self._trim.cancel()
        for task in self._probe_tasks:
            task.cancel()
        self.pool.close()
        if self.h2_pool is not None:
            self.h2_pool.close()

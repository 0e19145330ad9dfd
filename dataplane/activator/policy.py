"""The activator's per-request policy on the proxy engine: find the revision, wait for room, forward.

A request names its revision by the ``Knative-Serving-Revision`` and
``-Namespace`` headers (set by a router in front), or by its Host when the
activator is the router itself. It then waits in that revision's throttler until
a pod has room, and goes to that pod's queue-proxy with Knative's activator
headers, plus ``X-Activator-Wait-Ms``: how long it waited for capacity.
"""

from __future__ import annotations

import asyncio
import random
from bisect import bisect_left

from dataplane.activator.throttler import QUEUED, REJECTED, PodTracker, RevisionThrottler
from dataplane.http.engine import collect, request_head
from dataplane.http.server import ConnectionSet

WANTED = frozenset(
    {
        b"host",
        b"user-agent",
        b"k-network-probe",
        b"k-network-hash",
        b"k-kubelet-probe",
        b"knative-serving-revision",
        b"knative-serving-namespace",
        b"k-original-host",
        b"x-forwarded-for",
    }
)
WAIT_HEADER = b"X-Activator-Wait-Ms"
MAX_DIAL_RETRIES = 3
# seconds; buckets of the time requests wait for capacity (cold starts included)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Ticket:
    """One request's place with a revision: queued, then holding a pod slot."""

    __slots__ = ("policy", "conn", "throttler", "pod", "since", "retries", "bytes")

    def __init__(self, policy, conn, throttler: RevisionThrottler, since: float, nbytes: int):
        self.policy = policy
        self.conn = conn
        self.throttler = throttler
        self.pod: PodTracker | None = None
        self.since = since
        self.retries = 0
        self.bytes = nbytes

    def admitted_to(self, pod: PodTracker) -> None:
        self.policy.send(self, pod)


class RevisionStats:
    """Counters of one revision, read by the metrics endpoint."""

    __slots__ = ("requests", "shed", "timeouts", "errors", "wait_counts", "wait_sum")

    def __init__(self) -> None:
        self.requests = 0
        self.shed = 0
        self.timeouts = 0
        self.errors = 0
        self.wait_counts = [0] * (len(WAIT_BUCKETS) + 1)
        self.wait_sum = 0.0


class ActivatorPolicy:
    """Routing, throttling and stats for every revision the directory knows."""

    def __init__(self, loop: asyncio.AbstractEventLoop, state, reporter, rng: random.Random | None = None):
        self.loop = loop
        self.state = state  # dataplane.activator.state.ActivatorState
        self.reporter = reporter
        self.rng = rng or random.Random()
        self.connections = ConnectionSet()
        self.draining = False
        self.stats: dict[tuple[str, str], RevisionStats] = {}
        self.expiry: dict[tuple[str, str], asyncio.TimerHandle] = {}

    # -- engine callbacks ----------------------------------------------------------------------

    def connection_made(self, conn) -> None:
        self.connections.add(conn)

    def connection_lost(self, conn) -> None:
        self.connections.discard(conn)

    def on_request(self, conn, head) -> None:
        found = collect(head.headers, WANTED)
        if self._probe(conn, found):
            return
        key = self._revision_of(conn, found)
        if key is None:
            return
        throttler = self.state.throttlers.get(key)
        if throttler is None:
            conn.respond(404, b"revision not found: %s/%s" % (key[0].encode(), key[1].encode()))
            return
        info = self.state.revisions[key]
        stats = self.stats.get(key)
        if stats is None:
            stats = self.stats[key] = RevisionStats()
        stats.requests += 1
        self.reporter.request_in(key)
        conn.set_timeouts(info.timeout, info.response_start_timeout, info.idle_timeout)
        replace: dict[bytes, bytes | None] = {b"k-proxy-request": b"activator"}
        if b"k-original-host" not in found:
            replace[b"k-original-host"] = found.get(b"host", b"")
        if b"knative-serving-revision" in found:
            replace[b"knative-serving-revision"] = None
        if b"knative-serving-namespace" in found:
            replace[b"knative-serving-namespace"] = None
        xff = found.get(b"x-forwarded-for")
        replace[b"x-forwarded-for"] = (xff + b", " + conn.peer_ip) if xff else conn.peer_ip
        conn.upstream_head = request_head(head, replace, head.upgrade, b"activator")
        now = self.loop.time()
        nbytes = max(head.content_length, 0)
        ticket = Ticket(self, conn, throttler, now, nbytes)
        conn.slot = ticket
        outcome = throttler.acquire(ticket, nbytes, now)
        if outcome == REJECTED:
            self._shed(ticket, b"revision queue is full")
        elif outcome == QUEUED:
            self._watch_expiry(throttler)
        else:
            self.send(ticket, outcome)

    def on_admitted(self, conn) -> None:  # the engine's breaker hook; throttlers call Ticket.admitted_to
        pass

    def on_response_start(self, conn, status: int) -> None:
        if status == 502:
            ticket = conn.slot
            pod = ticket.pod if ticket is not None else None
            if pod is not None and pod.ready:
                # the pod's app may be gone (its queue-proxy could not reach it): send nothing more
                # there until a probe passes again, so queued requests go to the other pods
                ticket.throttler.mark_unready(pod)
                self.state.reprobe(ticket.throttler, pod)

    def on_done(self, conn) -> None:
        ticket = conn.slot
        if ticket is not None:
            self._end(ticket)

    def on_abort(self, conn) -> None:
        ticket = conn.slot
        if ticket is not None:
            self._end(ticket)

    def on_rejected(self, conn, status: int) -> None:
        pass

    def on_upstream_error(self, conn, reason: str, retryable: bool) -> None:
        ticket = conn.slot
        if ticket is not None and ticket.pod is not None:
            pod = ticket.pod
            throttler = ticket.throttler
            if retryable and ticket.retries < MAX_DIAL_RETRIES:
                # nothing reached the pod: give the request to another one, and re-probe this one
                ticket.retries += 1
                ticket.pod = None
                throttler.mark_unready(pod)
                throttler.release(pod)
                self.state.reprobe(throttler, pod)
                outcome = throttler.acquire(ticket, 0, ticket.since)
                if outcome == REJECTED:
                    self._shed(ticket, b"revision queue is full")
                elif outcome != QUEUED:
                    self.send(ticket, outcome)
                return
            self._stats(ticket).errors += 1
        conn.fail(502, reason)

    def on_timeout(self, conn) -> None:
        ticket = conn.slot
        if ticket is not None:
            self._stats(ticket).timeouts += 1
        conn.fail(504, "activator request timeout")

    # -- helpers -------------------------------------------------------------------------------

    def send(self, ticket: Ticket, pod: PodTracker) -> None:
        ticket.pod = pod
        conn = ticket.conn
        waited = self.loop.time() - ticket.since
        stats = self._stats(ticket)
        stats.wait_counts[bisect_left(WAIT_BUCKETS, waited)] += 1
        stats.wait_sum += waited
        conn.response_extra = [(WAIT_HEADER, b"%d" % int(waited * 1000))]
        conn.forward(pod.pool, conn.upstream_head)

    def _end(self, ticket: Ticket) -> None:
        conn = ticket.conn
        conn.slot = None
        if ticket.pod is not None:
            ticket.throttler.release(ticket.pod)
            ticket.pod = None
        else:
            ticket.throttler.cancel(ticket)
        self.reporter.request_out(ticket.throttler.key)

    def _stats(self, ticket: Ticket) -> RevisionStats:
        return self.stats[ticket.throttler.key]

    def _shed(self, ticket: Ticket, reason: bytes) -> None:
        self._stats(ticket).shed += 1
        ticket.conn.respond(503, reason, [(b"Retry-After", b"1")])

    def _watch_expiry(self, throttler: RevisionThrottler) -> None:
        if throttler.key in self.expiry:
            return
        since = throttler.oldest_wait_start()
        if since is not None:
            self.expiry[throttler.key] = self.loop.call_at(since + throttler.limits.max_wait, self._expire, throttler)

    def _expire(self, throttler: RevisionThrottler) -> None:
        self.expiry.pop(throttler.key, None)
        for ticket in throttler.expire(self.loop.time()):
            self._shed(ticket, b"waited too long for capacity")
        self._watch_expiry(throttler)

    def _revision_of(self, conn, found: dict) -> tuple[str, str] | None:
        name = found.get(b"knative-serving-revision")
        if name is not None:
            ns = found.get(b"knative-serving-namespace")
            if not ns:
                conn.respond(400, b"Knative-Serving-Revision needs Knative-Serving-Namespace")
                return None
            return (ns.decode("latin-1"), name.decode("latin-1"))
        host = found.get(b"host")
        if not host:
            conn.respond(404, b"no Host and no Knative-Serving-Revision: cannot route the request")
            return None
        hostname = host.decode("latin-1").lower()
        if hostname.startswith("["):
            hostname = hostname[: hostname.find("]") + 1]
        else:
            hostname = hostname.partition(":")[0]
        key = self.state.routes.pick(hostname)
        if key is None:
            conn.respond(404, b"no route for host " + hostname.encode("latin-1"))
        return key

    def _probe(self, conn, found: dict) -> bool:
        probe = found.get(b"k-network-probe")
        agent = found.get(b"user-agent", b"")
        if probe is None and b"k-kubelet-probe" not in found and not agent.startswith(b"kube-probe/"):
            return False
        if probe is None:  # the kubelet's health check of the activator itself
            if self.draining:
                conn.respond(500, b"shutting down")
            else:
                conn.respond(200, b"ok")
        elif probe == b"probe":
            value = found.get(b"k-network-hash")
            if value:
                conn.respond(200, value)
            else:
                conn.respond(400, b"a network probe needs a K-Network-Hash header")
        elif probe == b"activator":
            conn.respond(503 if self.draining else 200, b"shutting down" if self.draining else b"activator")
        else:
            conn.respond(400, b"unexpected probe header value: " + probe)
        return True

    def revision_removed(self, throttler: RevisionThrottler) -> None:
        """The revision was deleted: requests still waiting for it cannot be served."""
        for _, (ticket, _, _) in list(throttler.queue.items()):
            throttler.cancel(ticket)
            ticket.conn.respond(503, b"revision was removed while the request waited", [(b"Retry-After", b"1")])

    def close(self) -> None:
        for handle in self.expiry.values():
            handle.cancel()
        self.expiry.clear()

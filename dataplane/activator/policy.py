"""The activator's per-request policy on the proxy engine: find the revision, wait for room, forward.

A request names its revision by its Host (``<route>.<ns>.<domain>``, or
``<tag>-<route>.<ns>.<domain>`` for one revision), or, only when the policy is told
to trust them (``trust_revision_headers``: on Kubernetes, where the Gateway in front
sets them per traffic split), by the ``Knative-Serving-Revision`` and ``-Namespace``
headers. A client's copies are otherwise ignored and dropped: the router is the
ingress, and those headers would let any client pick any revision past its Routes,
and even wake one that is in no Route.

The activator is the first hop of the platform: the client's copies of every other
internal header (``dataplane.http.internal``) are dropped too when it is the router
(on Kubernetes, Knative's own handling of them is kept). It gives a request without an
``X-Request-Id`` one (in the headers the policy, the pod and the app see; returned on
the response; named in error bodies), sets ``X-Forwarded-Proto`` (``http``: the router
is reached over plain HTTP; behind the Gateway, the Gateway's value) and appends its hop
to ``X-Forwarded-For`` and ``Forwarded``. It then waits in that revision's throttler until
a pod has room, and goes to that pod's queue-proxy with Knative's activator
headers, plus ``X-Activator-Wait-Ms``: how long it waited for capacity.

An HTTP/2 stream (``dataplane.http.h2stream``) is such a request: ``:authority`` is
its Host, it waits and is counted alike, and goes to the pod it was given over h2c
(the pod's own pool, see ``ActivatorState.h2_pool``), so calls on one client
connection spread over the pods; an HTTP/1.1 request goes as HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import random
from bisect import bisect_left

from dataplane.activator.throttler import QUEUED, REJECTED, PodTracker, RevisionThrottler
from dataplane.http.engine import collect, request_head, with_request_id
from dataplane.http.forwarded import forwarded_hop
from dataplane.http.h2heads import h2_request_head
from dataplane.http.internal import INTERNAL
from dataplane.http.requestid import RequestIds, ensure_request_id
from dataplane.http.server import ConnectionSet

# headers the policy reads, and the internal ones it must find to drop; one pass collects them
WANTED = frozenset(
    {
        b"host",
        b"user-agent",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"forwarded",
        b"x-request-id",
        *INTERNAL,
    }
)
# internal headers a trusted hop in front (the Gateway) may set and the pod reads; the rest are dropped
# whoever sent them (Knative deletes K-Network-Hash from every request that is not a probe)
FROM_GATEWAY = frozenset({b"k-original-host", b"knative-serving-tag", b"knative-serving-default-route"})
WAIT_HEADER = b"X-Activator-Wait-Ms"
NO_WAIT = ((WAIT_HEADER, b"0"),)
RETRY_AFTER = ((b"Retry-After", b"1"),)
# Host header values remembered per directory snapshot
HOSTNAME_CACHE = 1024
MAX_DIAL_RETRIES = 3
# seconds a client is told to wait before retrying a revision that cannot serve: the kubelet's
# first crash back-off
FAILED_RETRY_AFTER = ((b"Retry-After", b"10"),)
# request ids echoed in 503 bodies: an id of this shape or none (the header comes from the client)
# seconds; buckets of the time requests wait for capacity (cold starts included)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# seconds; buckets of whole requests, from the head's arrival to the response's end (the queue-proxy's:
# Knative's OpenTelemetry ones, 5 ms to 10 s), with a last one for those that waited through a cold start
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)


class RevisionStats:
    """Counters of one revision, read by the metrics endpoint."""

    __slots__ = ("by_code", "aborted", "shed", "timeouts", "errors", "wait_counts", "wait_sum", "latency_counts", "latency_sum")

    def __init__(self) -> None:
        # requests answered, by status code (three digits on the wire, so < 1000), counted when done:
        # one increment per request, as the count on arrival it replaced, and Knative's
        # response_code labels come from it
        self.by_code = [0] * 1000
        self.aborted = 0
        """Requests whose client went away before the answer was complete."""
        self.shed = 0
        self.timeouts = 0
        self.errors = 0
        self.wait_counts = [0] * (len(WAIT_BUCKETS) + 1)
        self.wait_sum = 0.0
        # answered requests' whole time here (Knative's activator_request_latencies)
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0

    @property
    def requests(self) -> int:
        """Requests finished, answered or aborted (those still waiting or in flight are not yet in it)."""
        return sum(self.by_code) + self.aborted


class Target:
    """What every request for one revision needs, looked up once per directory snapshot."""

    __slots__ = ("key", "throttler", "stats", "timeout", "response_start_timeout", "idle_timeout", "failure")

    def __init__(self, key: tuple[str, str], throttler: RevisionThrottler, stats: RevisionStats, info) -> None:
        self.key = key
        self.throttler = throttler
        self.stats = stats
        self.timeout = info.timeout
        self.response_start_timeout = info.response_start_timeout
        self.idle_timeout = info.idle_timeout
        # the 503 body's text while no pod can serve the revision (None: requests wait for pods)
        self.failure = failure_text(key, info.failure) if info.failure else None


class Ticket:
    """One request's place with a revision: queued, then holding a pod slot."""

    __slots__ = ("policy", "conn", "throttler", "stats", "pod", "since", "retries", "bytes", "bucket", "waited", "h2")

    def __init__(self, policy, conn, throttler: RevisionThrottler, stats: RevisionStats, since: float, nbytes: int, h2: bool):
        self.policy = policy
        self.h2 = h2  # an HTTP/2 stream: it goes to the pod over h2c
        self.conn = conn
        self.throttler = throttler
        self.stats = stats
        self.pod: PodTracker | None = None
        self.since = since
        self.retries = 0
        self.bytes = nbytes
        self.bucket = -1  # where the wait histogram counted it (a retry moves it)
        self.waited = 0.0

    def admitted_to(self, pod: PodTracker) -> None:
        self.policy.send(self, pod)


class ActivatorPolicy:
    """Routing, throttling and stats for every revision the directory knows."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        state,
        reporter,
        rng: random.Random | None = None,
        trust_revision_headers: bool = False,
    ):
        self.loop = loop
        # whether the hop in front is the platform's (a Gateway that sets the revision headers)
        self.trust_revision_headers = trust_revision_headers
        self.ids = RequestIds()
        self.state = state  # dataplane.activator.state.ActivatorState
        self.reporter = reporter
        self.rng = rng or random.Random()
        self.connections = ConnectionSet()
        self.draining = False
        self.stats: dict[tuple[str, str], RevisionStats] = {}
        self.expiry: dict[tuple[str, str], asyncio.TimerHandle] = {}
        # per-snapshot caches of the revision lookups (cleared by directory_changed); the Host one
        # is bounded, since any client can vary a known host's port or case
        self._by_headers: dict[tuple[bytes, bytes], Target] = {}
        self._by_key: dict[tuple[str, str], Target] = {}
        self._hostnames: dict[bytes, str] = {}

    # -- engine callbacks ----------------------------------------------------------------------

    def connection_made(self, conn) -> None:
        self.connections.add(conn)

    def connection_lost(self, conn) -> None:
        self.connections.discard(conn)

    def on_request(self, conn, head) -> None:
        found = collect(head.headers, WANTED)
        if b"k-network-probe" in found or b"k-kubelet-probe" in found or found.get(b"user-agent", b"").startswith(b"kube-probe/"):
            self._probe(conn, found)
            return
        ensure_request_id(conn, head, found, self.ids)
        name = found.get(b"knative-serving-revision") if self.trust_revision_headers else None
        if name is not None:
            ns = found.get(b"knative-serving-namespace")
            target = self._by_headers.get((ns, name))
            if target is None:
                target = self._target_by_headers(conn, ns, name)
                if target is None:
                    return
        else:
            target = self._target_by_host(conn, found.get(b"host"))
            if target is None:
                return
        self.reporter.request_in(target.key)
        conn.set_timeouts(target.timeout, target.response_start_timeout, target.idle_timeout)
        h2 = head.version == 20
        if h2:
            conn.upstream_head = h2_request_head(head, self._rewrites(conn, found), b"activator")
        else:
            conn.upstream_head = request_head(head, self._rewrites(conn, found), head.upgrade, b"activator")
        now = self.loop.time()
        nbytes = head.content_length
        if nbytes < 0:
            nbytes = 0
        throttler = target.throttler
        ticket = Ticket(self, conn, throttler, target.stats, now, nbytes, h2)
        conn.slot = ticket
        if target.failure is not None and not throttler.ready:
            # no pod can serve it and none is coming soon: say so now, not at the timeout
            self._refuse(ticket, target.failure)
            return
        outcome = throttler.acquire(ticket, nbytes, now)
        if outcome == REJECTED:
            self._shed(ticket, b"revision queue is full")
        elif outcome == QUEUED:
            self._watch_expiry(throttler)
        else:
            # no wait: the zero bucket and a constant header
            ticket.pod = outcome
            ticket.bucket = 0
            target.stats.wait_counts[0] += 1
            conn.response_extra = NO_WAIT
            conn.forward(self.state.h2_pool(outcome) if h2 else outcome.pool, conn.upstream_head)

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
            stats = ticket.stats
            stats.by_code[conn.status] += 1
            elapsed = self.loop.time() - ticket.since
            stats.latency_counts[bisect_left(LATENCY_BUCKETS, elapsed)] += 1
            stats.latency_sum += elapsed
            self._end(ticket)

    def on_abort(self, conn) -> None:
        ticket = conn.slot
        if ticket is not None:
            ticket.stats.aborted += 1
            self._end(ticket)

    def on_rejected(self, conn, status: int) -> None:
        conn.request_id = self.ids.next()  # named in the refusal, so it can be quoted

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
                elif outcome == QUEUED:
                    self._watch_expiry(throttler)
                else:
                    self.send(ticket, outcome)
                return
            ticket.stats.errors += 1
        conn.fail(502, reason)

    def on_timeout(self, conn) -> None:
        ticket = conn.slot
        if ticket is not None:
            ticket.stats.timeouts += 1
        conn.fail(504, "activator request timeout")

    # -- helpers -------------------------------------------------------------------------------

    def send(self, ticket: Ticket, pod: PodTracker) -> None:
        ticket.pod = pod
        conn = ticket.conn
        waited = self.loop.time() - ticket.since
        stats = ticket.stats
        if ticket.bucket >= 0:  # a retry: the request is counted once, with its whole wait
            stats.wait_counts[ticket.bucket] -= 1
            stats.wait_sum -= ticket.waited
        ticket.bucket = bisect_left(WAIT_BUCKETS, waited)
        ticket.waited = waited
        stats.wait_counts[ticket.bucket] += 1
        stats.wait_sum += waited
        conn.response_extra = [(WAIT_HEADER, b"%d" % int(waited * 1000))]
        conn.forward(self.state.h2_pool(pod) if ticket.h2 else pod.pool, conn.upstream_head)

    def _rewrites(self, conn, found: dict) -> dict:
        """The header changes on the way to the pod."""
        trusted = self.trust_revision_headers
        replace: dict[bytes, bytes | None] = {}
        for name in found:  # usually a handful: only wanted names are in it
            if name in INTERNAL and not (trusted and name in FROM_GATEWAY):
                replace[name] = None
        replace[b"k-proxy-request"] = b"activator"
        if not (trusted and b"k-original-host" in found):  # the Gateway's is kept, as Knative does
            replace[b"k-original-host"] = found.get(b"host", b"")
        peer = conn.peer_ip
        xff = found.get(b"x-forwarded-for")
        replace[b"x-forwarded-for"] = (xff + b", " + peer) if xff else peer
        # the router is reached over plain HTTP: a client's claim of another scheme is not passed on
        claimed = found.get(b"x-forwarded-proto") if trusted else None
        replace[b"x-forwarded-proto"] = claimed if claimed is not None else b"http"
        fhost = found.get(b"x-forwarded-host")
        replace[b"forwarded"] = forwarded_hop(found.get(b"forwarded"), xff, claimed, fhost, peer, b"http")
        return replace

    def _end(self, ticket: Ticket) -> None:
        conn = ticket.conn
        conn.slot = None
        if ticket.pod is not None:
            ticket.throttler.release(ticket.pod)
            ticket.pod = None
        else:
            ticket.throttler.cancel(ticket)
        self.reporter.request_out(ticket.throttler.key)

    def _shed(self, ticket: Ticket, reason: bytes) -> None:
        ticket.stats.shed += 1
        ticket.conn.respond(503, with_request_id(reason, ticket.conn.request_id), RETRY_AFTER)

    def _refuse(self, ticket: Ticket, text: bytes) -> None:
        ticket.stats.shed += 1
        ticket.conn.respond(503, with_request_id(text, ticket.conn.request_id), FAILED_RETRY_AFTER)

    def revision_failed(self, throttler: RevisionThrottler, reason: str) -> None:
        """No pod can serve the revision (the directory says why): its waiting requests get 503 now."""
        text = failure_text(throttler.key, reason)
        for _, (ticket, _, _) in list(throttler.queue.items()):
            throttler.cancel(ticket)
            self._refuse(ticket, text)

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

    def directory_changed(self) -> None:
        """A new snapshot: revisions, their timeouts and routes may have changed."""
        self._by_headers.clear()
        self._by_key.clear()
        self._hostnames.clear()

    def _target(self, key: tuple[str, str]) -> Target | None:
        target = self._by_key.get(key)
        if target is None:
            throttler = self.state.throttlers.get(key)
            if throttler is None:
                return None
            stats = self.stats.get(key)
            if stats is None:
                stats = self.stats[key] = RevisionStats()
            target = self._by_key[key] = Target(key, throttler, stats, self.state.revisions[key])
        return target

    def _target_by_headers(self, conn, ns: bytes | None, name: bytes) -> Target | None:
        if not ns:
            conn.respond(400, with_request_id(b"Knative-Serving-Revision needs Knative-Serving-Namespace", conn.request_id))
            return None
        target = self._target((ns.decode("latin-1"), name.decode("latin-1")))
        if target is None:
            conn.respond(404, with_request_id(b"revision not found: %s/%s" % (ns, name), conn.request_id))
            return None
        self._by_headers[(ns, name)] = target
        return target

    def _target_by_host(self, conn, host: bytes | None) -> Target | None:
        if not host:
            conn.respond(404, with_request_id(b"no Host: cannot route the request", conn.request_id))
            return None
        hostname = self._hostnames.get(host)
        if hostname is None:
            hostname = host.decode("latin-1").lower()
            if hostname.startswith("["):
                hostname = hostname[: hostname.find("]") + 1]
            else:
                hostname = hostname.partition(":")[0]
        routes = self.state.routes
        key = routes.pick(hostname)
        if key is None:
            failed = routes.failure(hostname)
            if failed is None:
                conn.respond(404, with_request_id(b"no route for host " + hostname.encode("latin-1"), conn.request_id))
            else:
                # a Route claims the host but has no revision to send it to
                (ns, name), reason = failed
                text = failure_text((ns, name), reason) if name else b"no revision is ready for host %s: %s" % (
                    hostname.encode("latin-1"), reason.encode())
                conn.respond(503, with_request_id(text, conn.request_id), FAILED_RETRY_AFTER)
            return None
        # only Host values of known routes are remembered, and only so many
        if len(self._hostnames) < HOSTNAME_CACHE:
            self._hostnames[host] = hostname
        target = self._target(key)
        if target is None:
            k = (key[0].encode(), key[1].encode())
            conn.respond(404, with_request_id(b"revision not found: %s/%s" % k, conn.request_id))
        return target

    def _probe(self, conn, found: dict) -> None:
        """Health and network probes, answered here (the caller found one of their headers)."""
        probe = found.get(b"k-network-probe")
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

    def revision_removed(self, throttler: RevisionThrottler) -> None:
        """The revision was deleted: requests still waiting for it cannot be served."""
        for _, (ticket, _, _) in list(throttler.queue.items()):
            throttler.cancel(ticket)
            reason = with_request_id(b"revision was removed while the request waited", ticket.conn.request_id)
            ticket.conn.respond(503, reason, RETRY_AFTER)

    def close(self) -> None:
        for handle in self.expiry.values():
            handle.cancel()
        self.expiry.clear()


def failure_text(key: tuple[str, str], reason: str) -> bytes:
    """The 503 body for requests to a revision that cannot serve."""
    return b"revision %s/%s cannot serve requests: %s" % (key[0].encode(), key[1].encode(), reason.encode())

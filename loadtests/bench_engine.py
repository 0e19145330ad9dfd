"""Micro-benchmark: the proxy engine's cost per keep-alive request, compiled build vs pure-Python twin.

No sockets: a GET goes into ``ClientConnection.data_received``, out to an
upstream connection taken from the pool (its transport swallows writes), and
the response comes back through ``UpstreamConnection.data_received`` to the
client's transport. What is measured is the engine plus the head parser (the
compiled parser in both cases when it is built), the policy's few lines and
uvloop's clock: everything of a proxied request but the system calls and the
real policy (queue-proxy's adds several microseconds of its own).

Cases:

* forward: the policy forwards every request with ``request_head(head, {}, ...)``;
* queue-proxy shape: the policy also uses the engine as the queue-proxy does:
  ``collect`` of its 12 headers, ``set_timeouts``, an ``X-Forwarded-For`` rewrite.

The head parsing both builds share is also timed alone, so that the last
column compares what the rest costs. Builds and cases are interleaved round by
round and the median round is reported. Time is the thread's CPU time, which a
noisy neighbour disturbs far less than wall time. Build first:
``python setup.py build_ext --inplace``.

    python loadtests/bench_engine.py [--rounds 15] [--requests 20000] [--cpu 1]
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import statistics
import time

import uvloop

from dataplane._twins import twin_modules
from dataplane.http import parser

BUILDS = ("compiled", "pure")
MODULES = {"compiled": "dataplane.http._engine_c", "pure": "dataplane.http._engine_py"}

REQUEST = (
    b"GET /api/v1/items?limit=10 HTTP/1.1\r\n"
    b"Host: hello.default.example.com\r\n"
    b"User-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\n"
    b"X-Request-Id: 5f0c6a3e-2b1d-4c1e-9a57-0d6c1f1e2a3b\r\n"
    b"\r\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Date: Thu, 27 Nov 2025 09:00:00 GMT\r\n"
    b"Content-Length: 12\r\n"
    b"\r\n"
    b"Hello World!"
)
# the headers QueueProxyPolicy collects from every request
WANTED = frozenset(
    {
        b"user-agent", b"k-kubelet-probe", b"k-network-probe", b"k-network-hash", b"k-original-host",
        b"knative-serving-revision", b"knative-serving-namespace", b"k-proxy-request",
        b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded",
    }
)  # fmt: skip


class Transport:
    """Swallows writes at C speed (a bounded deque's append) unless ``record`` is set."""

    def __init__(self, record: bool = False):
        self.written = bytearray()
        self.write = self.written.extend if record else collections.deque(maxlen=1).append

    def get_extra_info(self, name, default=None):
        return ("10.1.2.3", 5555) if name == "peername" else default

    def close(self):
        pass

    def abort(self):
        pass

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


class Forward:
    def __init__(self, engine, pool):
        self.request_head = engine.request_head
        self.pool = pool

    def on_request(self, conn, head):
        conn.forward(self.pool, self.request_head(head, {}, head.upgrade, b"app"))

    def on_response_start(self, conn, status):
        pass

    def on_done(self, conn):
        pass

    # the rest of the policy interface, off the measured path
    def connection_made(self, conn):
        pass

    def connection_lost(self, conn):
        pass

    def on_admitted(self, conn):
        pass

    def on_abort(self, conn):
        pass

    def on_rejected(self, conn, status):
        pass

    def on_upstream_error(self, conn, reason, retryable):
        conn.fail(502, reason)

    def on_timeout(self, conn):
        conn.fail(504, "request timeout")


class QueueProxyShape(Forward):
    def __init__(self, engine, pool):
        super().__init__(engine, pool)
        self.collect = engine.collect

    def on_request(self, conn, head):
        found = self.collect(head.headers, WANTED)
        conn.set_timeouts(300.0, 0.0, 0.0)
        xff = found.get(b"x-forwarded-for")
        replace = {b"x-forwarded-for": (xff + b", " + conn.peer_ip) if xff else conn.peer_ip}
        conn.forward(self.pool, self.request_head(head, replace, head.upgrade, b"127.0.0.1:8080"))


CASES = {"forward": Forward, "queue-proxy shape": QueueProxyShape}


def rig(engine, loop, policy_type, record: bool = False):
    """A client connection and the one pooled upstream connection its requests go to."""
    pool = engine.UpstreamPool(loop, "127.0.0.1", 8080)
    policy = policy_type(engine, pool)
    client = engine.ClientConnection(loop, policy, engine.EngineConfig())
    client.connection_made(Transport(record))
    upstream = engine.UpstreamConnection(pool)
    upstream.connection_made(Transport(record))
    pool.give_back(upstream)
    return client, upstream


def exchange(engine, loop, policy_type) -> tuple[bytes, bytes]:
    """One round trip with recording transports: what the app and the client received."""
    client, upstream = rig(engine, loop, policy_type, record=True)
    client.data_received(REQUEST)
    upstream.data_received(RESPONSE)
    return bytes(upstream.transport.written), bytes(client.transport.written)


def measure(engine, loop, policy_type, requests: int) -> float:
    client, upstream = rig(engine, loop, policy_type)
    send, answer = client.data_received, upstream.data_received
    start = time.thread_time_ns()
    for _ in range(requests):
        send(REQUEST)
        answer(RESPONSE)
    elapsed = time.thread_time_ns() - start
    assert upstream.client is None and client.head is None  # every request was answered
    return elapsed / requests / 1000


def measure_parsing(requests: int) -> float:
    """What parsing one request head and one response head costs, as the engine does it."""
    parse_request, parse_response = parser.parse_request_head, parser.parse_response_head
    start = time.thread_time_ns()
    for _ in range(requests):
        parse_request(REQUEST, 65536)
        parse_response(RESPONSE, 65536)
    return (time.thread_time_ns() - start) / requests / 1000


def run(rounds: int, requests: int) -> dict[tuple[str, str], float]:
    """Median microseconds per request for every (case, build), and for ("parsing", "")."""
    engines = {build: importlib.import_module(MODULES[build]) for build in BUILDS}
    loop = uvloop.new_event_loop()
    try:
        for case, policy_type in CASES.items():
            sent = {build: exchange(engines[build], loop, policy_type) for build in BUILDS}
            assert sent["compiled"] == sent["pure"], f"{case}: the builds differ"
            assert sent["pure"][1] == RESPONSE, sent["pure"][1]
        samples: dict[tuple[str, str], list[float]] = {(c, b): [] for c in CASES for b in BUILDS}
        samples["parsing", ""] = []
        for round_no in range(rounds):
            samples["parsing", ""].append(measure_parsing(requests))
            # alternate which build goes first, so drift hits both alike
            order = BUILDS if round_no % 2 == 0 else BUILDS[::-1]
            for case, policy_type in CASES.items():
                for build in order:
                    samples[case, build].append(measure(engines[build], loop, policy_type, requests))
    finally:
        loop.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per case and build in a round")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: the last one)")
    args = parser.parse_args()

    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1] if args.cpu is None else args.cpu
    os.sched_setaffinity(0, {cpu})

    parser_build = twin_modules().get("dataplane.http._parser_py", "?")
    medians = run(args.rounds, args.requests)
    print(
        f"pinned to CPU {cpu}; {args.rounds} rounds x {args.requests} requests; head parser: {parser_build}; "
        "median CPU us per request"
    )
    parsing = medians["parsing", ""]
    print(f"{'case':20} {'compiled':>10} {'pure':>10} {'pure/compiled':>14} {'same, parsing removed':>22}")
    for case in CASES:
        compiled, pure = medians[case, "compiled"], medians[case, "pure"]
        engine = (pure - parsing) / (compiled - parsing) if compiled > parsing else float("inf")
        print(f"{case:20} {compiled:10.2f} {pure:10.2f} {pure / compiled:13.2f}x {engine:21.2f}x")
    print(f"{'head parsing alone':20} {parsing:10.2f} {parsing:10.2f}   (in both builds' figures)")


if __name__ == "__main__":
    main()

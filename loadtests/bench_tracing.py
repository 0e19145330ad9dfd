"""Micro-benchmark: the queue-proxy policy's cost per keep-alive request with tracing off and on.

No sockets (as ``bench_engine.py``): a GET with a W3C ``traceparent`` goes into the real
``QueueProxyPolicy`` (tracing off: the plain policy, exactly what runs without tracing) or
``TracedQueueProxyPolicy`` (on, with a sampling rate of 0 and of 1), out to a pooled upstream
connection whose transport swallows writes, and the response comes back. Spans go to an exporter
that drops them, so what is measured is the SDK's work on the event loop thread, not the export.
Cases are interleaved round by round, the median round is reported, as CPU time of the thread
and as a ratio to ``off``. To compare ``off`` with another checkout, run this file from each with
its ``PYTHONPATH``. Build first: ``python setup.py build_ext --inplace``.

    python loadtests/bench_tracing.py [--rounds 9] [--requests 20000] [--cpu 1]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

import uvloop

from dataplane.http import engine
from dataplane.queueproxy.policy import QueueProxyPolicy
from dataplane.queueproxy.readiness import Readiness
from dataplane.queueproxy.settings import from_env

REQUEST = (
    b"GET /api/v1/items?limit=10 HTTP/1.1\r\n"
    b"Host: hello.default.example.com\r\n"
    b"User-Agent: curl/8.5.0\r\n"
    b"X-Request-Id: 5f0c6a3e-2b1d-4c1e-9a57-0d6c1f1e2a3b\r\n"
    b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
    b"\r\n"
)
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World!"
ENV = {"USER_PORT": "8080", "REVISION_TIMEOUT_SECONDS": "300", "QUEUE_SERVING_PORT": "8012", "CONTAINER_CONCURRENCY": "0",
       "SERVING_NAMESPACE": "n", "SERVING_CONFIGURATION": "c", "SERVING_REVISION": "r", "SERVING_POD": "p", "SERVING_POD_IP": "10.0.0.1"}  # fmt: skip
CASES = {"off": None, "on, rate 0": "0", "on, rate 1": "1"}


class Transport:
    """Swallows writes, or records them."""

    def __init__(self, record: bool = False):
        self.written = bytearray()
        self.write = self.written.extend if record else collections.deque(maxlen=1).append

    def get_extra_info(self, name, default=None):
        return ("10.1.2.3", 5555) if name == "peername" else default

    def close(self): ...
    def abort(self): ...
    def pause_reading(self): ...
    def resume_reading(self): ...


class DropExporter:
    """A span exporter that keeps nothing."""

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_millis: int = 0) -> bool:
        return True


def policy_for(loop, rate: str | None):
    if rate is None:
        return QueueProxyPolicy(loop, from_env(ENV), Readiness(()))
    from dataplane.queueproxy.traced import TracedQueueProxyPolicy
    from dataplane.tracing import Tracing

    env = {**ENV, "TRACING_PROTOCOL": "http/protobuf", "TRACING_ENDPOINT": "http://127.0.0.1:9", "TRACING_SAMPLING_RATE": rate}
    settings = from_env(env)
    return TracedQueueProxyPolicy(loop, settings, Readiness(()), Tracing(settings.tracing, "queue-proxy", {}, exporter=DropExporter()))


def rig(loop, rate: str | None, record: bool = False):
    policy = policy_for(loop, rate)
    client = engine.ClientConnection(loop, policy, engine.EngineConfig())
    client.connection_made(Transport(record))
    upstream = engine.UpstreamConnection(policy.pool)
    upstream.connection_made(Transport(record))
    policy.pool.give_back(upstream)
    return client, upstream


def measure(loop, rate: str | None, requests: int) -> float:
    client, upstream = rig(loop, rate)
    send, answer = client.data_received, upstream.data_received
    start = time.thread_time_ns()
    for _ in range(requests):
        send(REQUEST)
        answer(RESPONSE)
    elapsed = time.thread_time_ns() - start
    assert upstream.client is None and client.head is None  # every request was answered
    return elapsed / requests / 1000


def run(rounds: int, requests: int) -> dict[str, float]:
    """Median microseconds per request of each case."""
    loop = uvloop.new_event_loop()
    try:
        for case, rate in CASES.items():
            client, upstream = rig(loop, rate, record=True)
            client.data_received(REQUEST)
            upstream.data_received(RESPONSE)
            assert bytes(client.transport.written).endswith(b"Hello World!"), case
            assert b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-" in bytes(upstream.transport.written), case
        samples: dict[str, list[float]] = {case: [] for case in CASES}
        order = list(CASES)
        for round_no in range(rounds):
            for case in order if round_no % 2 == 0 else reversed(order):  # drift hits every case alike
                samples[case].append(measure(loop, CASES[case], requests))
        return {case: statistics.median(values) for case, values in samples.items()}
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: the last one)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))})
    result = run(args.rounds, args.requests)
    build = "compiled" if engine.ClientConnection.__module__.endswith("_c") else "pure"
    print(f"queue-proxy policy, {build} engine: CPU µs per request, median of {args.rounds} rounds")
    for case, value in result.items():
        print(f"  {case:12s} {value:8.2f}  ×{value / result['off']:.2f}")


if __name__ == "__main__":
    main()

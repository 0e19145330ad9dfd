"""An ActivatorPolicy on a fake loop, with pods whose pools connect to fake upstream transports.

The state is built by hand (no ``ActivatorState.apply``: that opens real pools
and starts probe tasks): revisions, throttlers and routes are set directly, pods
are ``PodTracker`` objects with a fake pool, marked ready at once, and
``reprobe`` only records its calls.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dataplane.activator.policy import ActivatorPolicy
from dataplane.activator.reporter import StatReporter
from dataplane.activator.state import ActivatorState
from dataplane.activator.throttler import PodTracker, QueueLimits, RevisionThrottler
from dataplane.directory import RevisionInfo
from dataplane.http.requestid import RequestIds
from tests.unit.engine.fakes import FakeLoop, FakeTransport, fake_pool_type

NS = "default"
PEER = ("10.1.2.3", 5555)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]  # lower-case names
    body: bytes


def parse(raw: bytes) -> Response:
    """One complete response (the proxy's own or a forwarded one with Content-Length)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response in {raw!r}"
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b": ")
        assert name.lower() not in headers, f"repeated {name!r} in {raw!r}"
        headers[name.lower()] = value
    assert int(headers[b"content-length"]) == len(body), raw
    return Response(int(lines[0].split(b" ")[1]), headers, body)


def request(target: str = "/", host: str | None = "hello.default.example.com", revision: str | None = None,
            namespace: str | None = NS, headers: tuple = (), body: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:  # fmt: skip
    lines = [b"%s %s %s" % (b"POST" if body else b"GET", target.encode(), version)]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    if revision is not None:
        lines.append(b"Knative-Serving-Revision: " + revision.encode())
        if namespace is not None:
            lines.append(b"Knative-Serving-Namespace: " + namespace.encode())
    lines += [name.encode() + b": " + value.encode() for name, value in headers]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class Client:
    """One client connection to the activator."""

    def __init__(self, rig: Rig, peer=PEER):
        self.conn = rig.engine.ClientConnection(rig.loop, rig.policy, rig.engine.EngineConfig())
        self.transport = FakeTransport(peer)
        self.transport.protocol = self.conn
        self.conn.connection_made(self.transport)

    def send(self, raw: bytes) -> None:
        self.conn.data_received(raw)

    def take(self) -> bytes:
        return self.transport.take()

    def response(self) -> Response:
        return parse(self.take())

    def close(self) -> None:
        self.transport.lose()


class Rig:
    def __init__(self, engine, limits: QueueLimits = QueueLimits(), seed: int = 7, trust_revision_headers: bool = True):
        self.engine = engine
        self.loop = FakeLoop()
        self.seed = seed
        self.state = ActivatorState(self.loop, limits, probe_interval=1.0, probe_timeout=1.0)
        self.reprobed: list[tuple[tuple[str, str], str]] = []
        self.state.reprobe = lambda throttler, pod: self.reprobed.append((throttler.key, pod.name))
        self.reports: list = []  # what the reporter sent
        self.reporter = StatReporter("activator-test", self.reports.append, clock=self.loop.time)
        # trusting the revision headers, as on Kubernetes behind a Gateway; the `router` fixture does not
        self.policy = ActivatorPolicy(
            self.loop, self.state, self.reporter, rng=random.Random(seed), trust_revision_headers=trust_revision_headers
        )
        self.policy.ids = RequestIds(b"rid")  # ids rid-1, rid-2, ... in request order
        self.pods: list[PodTracker] = []
        self.clients: list[Client] = []

    def revision(self, name: str, cc: int = 0, pods: int = 1, ns: str = NS, timeout: float = 300.0) -> RevisionThrottler:
        key = (ns, name)
        self.state.revisions[key] = RevisionInfo(ns, name, container_concurrency=cc, timeout=timeout)
        throttler = self.state.throttlers[key] = RevisionThrottler(key, cc, self.state.limits, rng=random.Random(self.seed))
        for _ in range(pods):
            self.pod(throttler)
        return throttler

    def pod(self, throttler: RevisionThrottler, ready: bool = True) -> PodTracker:
        n = len(self.pods)
        pod = PodTracker(f"{throttler.key[1]}-pod{n}", f"10.0.0.{n + 1}:8012", fake_pool_type(self.engine)(self.loop))
        self.pods.append(pod)
        throttler.add_pod(pod)
        if ready:
            throttler.mark_ready(pod)
        return pod

    def client(self, peer=PEER) -> Client:
        client = Client(self, peer)
        self.clients.append(client)
        return client

    def forwarded(self) -> list:
        """``(pod, upstream connection, bytes)`` for each upstream connection written to since the last call."""
        out = []
        for pod in self.pods:
            for up in pod.pool.opened:
                data = up.transport.take()
                if data:
                    out.append((pod, up, data))
        return out

    def roundtrip(self, client: Client, raw: bytes, answer: bytes = OK) -> tuple[PodTracker, bytes, Response]:
        """Send a request that goes to one pod at once, answer it, return (pod, upstream bytes, response)."""
        client.send(raw)
        [(pod, up, data)] = self.forwarded()
        up.data_received(answer)
        return pod, data, client.response()

    def close(self) -> None:
        for client in self.clients:
            if not client.transport.lost:
                client.close()
        self.policy.close()

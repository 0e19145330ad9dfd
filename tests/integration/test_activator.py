"""The activator as a real process, in front of real queue-proxy pods, over loopback."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter

import aiohttp
import pytest

from tests.integration.fakes import DirectoryServer, StatSink
from tests.support import Pod, Proc, dataplane_cmd, free_port, raw_exchange, start_pod, status_of

NS = "default"


def revision(name: str, pods: list[Pod], cc: int = 0, timeout: int = 30) -> dict:
    return {
        "namespace": NS,
        "name": name,
        "containerConcurrency": cc,
        "timeoutSeconds": timeout,
        "pods": [{"name": f"{name}-{i}", "address": p.address, "ready": True} for i, p in enumerate(pods)],
    }


class Rig:
    def __init__(self):
        self.directory = DirectoryServer()
        self.sink = StatSink()
        self.procs: list[Proc] = []
        self.pods: list[Pod] = []
        self.port = 0
        self.metrics_port = 0

    async def start(self, *args: str, trust_revision_headers: bool = True) -> Rig:
        """Start the activator; it trusts the revision headers (as on Kubernetes) unless told not to (the router)."""
        await self.directory.start()
        await self.sink.start()
        self.port, self.metrics_port = free_port(), free_port()
        cmd = dataplane_cmd(
            "activator",
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--metrics-port", str(self.metrics_port),
            "--directory", self.directory.url,
            "--autoscaler", self.sink.url,
            "--pod-name", "activator-test",
            "--drain-delay", "0.5",
            *(("--trust-revision-headers",) if trust_revision_headers else ()),
            *args,
        )  # fmt: skip
        self.procs.append(await asyncio.to_thread(Proc, cmd, None, self.port))
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def pod(self, **env: str) -> Pod:
        pod = await asyncio.to_thread(start_pod, **env)
        self.pods.append(pod)
        return pod

    async def settle(self) -> None:
        """Give the activator time to read the newest snapshot (it long-polls)."""
        await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
        for pod in self.pods:
            pod.stop()
        await self.directory.stop()
        await self.sink.stop()


@pytest.fixture
async def rig():
    r = Rig()
    yield r
    await r.stop()


def session(limit: int = 0) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit), timeout=aiohttp.ClientTimeout(total=60))


async def fetch(s: aiohttp.ClientSession, url: str, **kw) -> tuple[int, str, dict]:
    async with s.get(url, **kw) as r:
        return r.status, await r.text(), dict(r.headers)


async def app_count(s: aiohttp.ClientSession, pod: Pod) -> int:
    async with s.get(f"http://127.0.0.1:{pod.app.port}/count") as r:
        return int(await r.text()) - 1  # not counting this call


async def test_thousand_requests_at_zero_all_answered_once(rig):
    await rig.start()
    rig.directory.publish([revision("hello-00001", [])])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    async with session() as s:
        pending = [asyncio.ensure_future(fetch(s, rig.url + "/order?id=%d" % i, headers=headers)) for i in range(1000)]
        await asyncio.sleep(1.0)
        assert not any(f.done() for f in pending)  # all held: no pod yet
        # the scale-up signal goes out with the first stat push (every second); a loaded machine may delay it
        await asyncio.wait_for(rig.sink.arrived.wait(), 10)
        assert rig.sink.messages[0].stat.average_concurrent_requests >= 1
        pod = await rig.pod()
        rig.directory.publish([revision("hello-00001", [pod])])
        results = await asyncio.gather(*pending)
        assert Counter(r[0] for r in results) == {200: 1000}
        assert sorted(int(r[1]) for r in results) == list(range(1000))
        async with s.get(f"http://127.0.0.1:{pod.app.port}/log") as r:
            seen = await r.json()
        assert sorted(map(int, seen)) == list(range(1000))  # each reached the app exactly once
        assert all("X-Activator-Wait-Ms" in r[2] for r in results)


async def test_queue_bound_sheds_exactly_the_excess(rig):
    await rig.start("--max-queued", "50")
    rig.directory.publish([revision("hello-00001", [])])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    async with session() as s:
        pending = [asyncio.ensure_future(fetch(s, rig.url + "/", headers=headers)) for i in range(80)]
        await asyncio.sleep(1.0)
        shed = [f.result() for f in pending if f.done()]
        assert len(shed) == 30
        assert all(r[0] == 503 and r[1].startswith("revision queue is full (request id ") and r[2]["Retry-After"] == "1" for r in shed)
        pod = await rig.pod()
        rig.directory.publish([revision("hello-00001", [pod])])
        results = await asyncio.gather(*pending)
        assert Counter(r[0] for r in results) == {200: 50, 503: 30}


async def test_wait_past_timeout_is_504(rig):
    await rig.start()
    rig.directory.publish([revision("hello-00001", [], timeout=1)])
    await rig.settle()
    async with session() as s:
        status, text, _ = await fetch(s, rig.url + "/", headers={"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS})
    assert status == 504 and text.startswith("activator request timeout (request id ")


async def test_new_pod_takes_queued_requests_at_once(rig):
    await rig.start()
    first = await rig.pod(CONTAINER_CONCURRENCY="1")
    rig.directory.publish([revision("hello-00001", [first], cc=1)])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    async with session() as s:
        await fetch(s, rig.url + "/", headers=headers)  # the first pod is probed and in use
        busy = asyncio.ensure_future(fetch(s, rig.url + "/sleep?ms=4000", headers=headers))
        await asyncio.sleep(0.3)
        queued = [asyncio.ensure_future(fetch(s, rig.url + "/order?id=%d" % i, headers=headers)) for i in range(5)]
        await asyncio.sleep(0.3)
        second = await rig.pod(CONTAINER_CONCURRENCY="1")
        rig.directory.publish([revision("hello-00001", [first, second], cc=1)])
        done, _ = await asyncio.wait(queued, timeout=3.5)
        assert len(done) == 5 and not busy.done()  # served by the new pod while the first is still busy
        assert [f.result()[0] for f in queued] == [200] * 5
        assert (await busy)[0] == 200


@pytest.mark.parametrize("cc", [1, 2, 3])
async def test_balance_across_pods(rig, cc):
    await rig.start()
    pods = [await rig.pod(CONTAINER_CONCURRENCY=str(cc)) for _ in range(3)]
    rig.directory.publish([revision("hello-00001", pods, cc=cc)])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    total = 600
    async with session() as s:
        sem = asyncio.Semaphore(3 * cc)

        async def one(i):
            async with sem:
                return (await fetch(s, rig.url + "/sleep?ms=5", headers=headers))[0]

        # every pod probed before counting: until each has served, bounded in rounds (a loaded machine probes late)
        for _ in range(100):
            await asyncio.gather(*(one(i) for i in range(3 * cc)))
            before = [await app_count(s, p) for p in pods]
            if all(before):
                break
        assert all(before), before
        statuses = await asyncio.gather(*(one(i) for i in range(total)))
        assert statuses == [200] * total
        counts = [await app_count(s, p) - b - 1 for p, b in zip(pods, before)]  # less the count call in `before`
    assert sum(counts) == total
    for n in counts:
        assert abs(n - total / 3) <= 0.1 * total / 3, counts


async def test_host_routing_split_tags_and_unknown_hosts(rig):
    await rig.start()
    a, b = await rig.pod(), await rig.pod()
    routes = [
        {
            "namespace": NS,
            "name": "hello",
            "hosts": ["hello.default.example.com"],
            "traffic": [{"revisionName": "hello-00001", "percent": 50}, {"revisionName": "hello-00002", "percent": 50}],
            "tagHosts": {"v2-hello.default.example.com": "hello-00002"},
        }
    ]
    rig.directory.publish([revision("hello-00001", [a]), revision("hello-00002", [b])], routes)
    await rig.settle()
    async with session() as s:
        await asyncio.sleep(0.3)
        for _ in range(200):
            status, _, _ = await fetch(s, rig.url + "/", headers={"Host": "hello.default.example.com:8080"})
            assert status == 200
        ca, cb = await app_count(s, a), await app_count(s, b)
        assert (ca, cb) == (100, 100)  # the split is exact, not random
        for _ in range(10):
            assert (await fetch(s, rig.url + "/", headers={"Host": "v2-hello.default.example.com"}))[0] == 200
        assert await app_count(s, b) == cb + 10 + 1  # +1: the previous /count call
        status, text, _ = await fetch(s, rig.url + "/", headers={"Host": "nope.example.com"})
        assert status == 404 and text.startswith("no route for host nope.example.com (request id ")
        status, text, _ = await fetch(s, rig.url + "/", headers={"Knative-Serving-Revision": "missing", "Knative-Serving-Namespace": NS})
        assert status == 404 and text.startswith("revision not found: default/missing (request id ")


async def test_headers_sent_to_the_pod(rig):
    await rig.start()
    pod = await rig.pod()
    rig.directory.publish([revision("hello-00001", [pod])])
    await rig.settle()
    async with session() as s:
        async with s.get(
            rig.url + "/echo", headers={"Host": "hello.default.example.com", "Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
        ) as r:
            seen = await r.json()
            returned = r.headers.getall("X-Request-Id")
    got = {k.lower(): v for k, v in seen["headers"]}
    assert got["host"] == "hello.default.example.com"  # restored by the queue-proxy from K-Original-Host
    for gone in ("k-proxy-request", "knative-serving-revision", "knative-serving-namespace", "k-original-host"):
        assert gone not in got  # read by the queue-proxy, never the app's
    assert got["x-forwarded-proto"] == "http" and got["forwarded"] == "for=127.0.0.1;proto=http, for=127.0.0.1;proto=http"
    assert returned == [got["x-request-id"]]  # made by the activator, the first hop; returned once
    assert got["x-forwarded-for"].startswith("127.0.0.1")


async def test_refused_connection_is_retried_on_another_pod(rig):
    await rig.start()
    a, b = await rig.pod(), await rig.pod()
    rig.directory.publish([revision("hello-00001", [a, b])])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    async with session() as s:
        await asyncio.sleep(0.3)
        a.qp.stop()  # still listed, but gone
        statuses = [(await fetch(s, rig.url + "/", headers=headers))[0] for _ in range(20)]
    assert statuses == [200] * 20


async def test_client_leaving_the_queue(rig):
    await rig.start("--max-queued", "5")
    rig.directory.publish([revision("hello-00001", [])])
    await rig.settle()
    writers = []
    for _ in range(5):
        _, w = await asyncio.open_connection("127.0.0.1", rig.port)
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\nKnative-Serving-Revision: hello-00001\r\nKnative-Serving-Namespace: default\r\n\r\n")
        await w.drain()
        writers.append(w)
    await asyncio.sleep(0.3)
    for w in writers:
        w.close()
        await w.wait_closed()
    await asyncio.sleep(0.3)
    async with session() as s:
        async with s.get(f"http://127.0.0.1:{rig.metrics_port}/metrics") as r:
            text = await r.text()
        assert 'activator_queued_requests{configuration_name="",container_name="activator",namespace_name="default",' in text
        assert 'revision_name="hello-00001",service_name=""} 0.0' in text
        pending = [asyncio.ensure_future(fetch(s, rig.url + "/", headers={"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS})) for _ in range(5)]
        await asyncio.sleep(0.5)
        assert not any(f.done() for f in pending)  # room for 5 again: none shed
        pod = await rig.pod()
        rig.directory.publish([revision("hello-00001", [pod])])
        assert [r[0] for r in await asyncio.gather(*pending)] == [200] * 5


async def test_bad_input_never_reaches_a_pod(rig):
    await rig.start()
    pod = await rig.pod()
    rig.directory.publish([revision("hello-00001", [pod])])
    await rig.settle()
    reply = await raw_exchange(rig.port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert status_of(reply) == 400
    async with session() as s:
        assert await app_count(s, pod) == 0


async def test_sigterm_fails_readiness_then_finishes_what_it_holds(rig):
    await rig.start()
    pod = await rig.pod()
    rig.directory.publish([revision("hello-00001", [pod])])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    async with session() as s:
        await fetch(s, rig.url + "/", headers=headers)
        slow = asyncio.ensure_future(fetch(s, rig.url + "/sleep?ms=1500", headers=headers))
        await asyncio.sleep(0.2)
        rig.procs[0].signal(signal.SIGTERM)
        await asyncio.sleep(0.1)
        status, text, _ = await fetch(s, rig.url + "/", headers={"User-Agent": "kube-probe/1.30"})
        assert (status, text) == (500, "shutting down")
        assert (await slow)[0] == 200
    assert await asyncio.to_thread(rig.procs[0].wait, 10) == 0


async def test_stats_are_pushed_every_second(rig):
    await rig.start()
    pod = await rig.pod()
    rig.directory.publish([revision("hello-00001", [pod])])
    await rig.settle()
    headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}
    async with session() as s:
        await asyncio.gather(*(fetch(s, rig.url + "/sleep?ms=1500", headers=headers) for _ in range(4)))
    await asyncio.sleep(1.2)
    mine = [m for m in rig.sink.messages if m.name == "hello-00001"]
    assert mine[0].stat.average_concurrent_requests == 1.0  # the immediate fast-path stat
    assert mine[0].stat.pod_name == "activator-test"
    assert max(m.stat.average_concurrent_requests for m in mine[1:]) > 2.0


async def test_router_routes_an_absolute_form_target_by_its_authority_and_trusts_no_revision_header(rig):
    await rig.start(trust_revision_headers=False)  # as `dataplane up` runs it
    routed, reserve = await rig.pod(), await rig.pod()
    routes = [{"namespace": NS, "name": "hello", "hosts": ["hello.default.example.com"], "traffic": [{"revisionName": "hello-00001", "percent": 100}]}]
    rig.directory.publish([revision("hello-00001", [routed]), revision("reserve-00001", [reserve])], routes)
    await rig.settle()
    await asyncio.sleep(0.3)
    reply = await raw_exchange(
        rig.port,
        b"GET http://hello.default.example.com/echo?x=1 HTTP/1.1\r\nHost: nope.example.com\r\n"
        b"Knative-Serving-Revision: reserve-00001\r\nKnative-Serving-Namespace: default\r\nConnection: close\r\n\r\n",
    )
    assert status_of(reply) == 200, reply
    seen = json.loads(reply.partition(b"\r\n\r\n")[2])
    got = {k.lower(): v for k, v in seen["headers"]}
    # RFC 9112 §3.2.2: the target's authority wins; the app sees one consistent request
    assert (seen["path"], got["host"]) == ("/echo?x=1", "hello.default.example.com")
    assert "knative-serving-revision" not in got and "knative-serving-namespace" not in got
    async with session() as s:
        assert await app_count(s, reserve) == 0  # the reserve revision was neither reached nor counted
        status, _, _ = await fetch(s, rig.url + "/", headers={"Host": "nope.example.com", "Knative-Serving-Revision": "reserve-00001", "Knative-Serving-Namespace": NS})
        assert status == 404
        assert await app_count(s, reserve) == 1  # the previous /count call

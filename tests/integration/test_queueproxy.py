"""The queue-proxy as a real process in front of a real app, over loopback sockets."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from dataplane.stats.wire import Stat
from tests.support import Pod, Proc, body_of, dataplane_cmd, raw_exchange, start_pod, status_of


class QP:
    def __init__(self, pod: Pod):
        self.pod = pod
        self.app = pod.app
        self.proc = pod.qp
        self.ports = pod.ports
        self.url = pod.url
        self.port = pod.port

    async def app_count(self, session: aiohttp.ClientSession) -> int:
        async with session.get(f"http://127.0.0.1:{self.app.port}/count") as r:
            return int(await r.text())


@pytest.fixture
def start_qp():
    started: list[Pod] = []

    def start(**env: str) -> QP:
        pod = start_pod(**env)
        started.append(pod)
        return QP(pod)

    yield start
    for pod in reversed(started):
        pod.stop()


async def test_forwards_with_knative_headers(start_qp):
    qp = start_qp()
    headers = {
        "X-Forwarded-For": "10.0.0.1",
        "X-Forwarded-Proto": "https",
        "K-Original-Host": "hello.default.example.com",
        "Knative-Serving-Revision": "hello-00001",
        "Knative-Serving-Namespace": "default",
        "Host": "activator-host",
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(qp.url + "/echo?x=1", data=b"abc", headers=headers) as r:
            assert r.status == 200
            seen = await r.json()
    got = {k.lower(): v for k, v in seen["headers"]}
    assert seen["path"] == "/echo?x=1"
    assert seen["length"] == 3
    assert got["host"] == "hello.default.example.com"
    assert got["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert got["forwarded"] == "for=10.0.0.1;proto=https, for=127.0.0.1;proto=http"  # this hop appended
    assert got["x-forwarded-proto"] == "https" and got["x-request-id"]
    for gone in ("k-original-host", "knative-serving-revision", "knative-serving-namespace"):
        assert gone not in got


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({"K-Network-Probe": "queue"}, 200, b"queue"),
        ({"User-Agent": "kube-probe/1.30", "K-Network-Probe": "queue"}, 200, b"queue"),
        ({"User-Agent": "Knative-Activator-Probe", "K-Network-Probe": "queue"}, 200, b"queue"),
        ({"User-Agent": "kube-probe/1.30"}, 400, b"unexpected probe header value: "),
        ({"K-Network-Probe": "activator"}, 400, b"unexpected probe header value: activator"),
        ({"K-Network-Probe": "probe", "K-Network-Hash": "abc123"}, 200, b"abc123"),
        ({"K-Network-Probe": "probe"}, 400, b"a network probe needs a K-Network-Hash header"),
    ],
)
async def test_probes_are_answered_not_forwarded(start_qp, headers, status, body):
    qp = start_qp()
    async with aiohttp.ClientSession() as s:
        before = await qp.app_count(s)
        async with s.get(qp.url + "/anything", headers=headers) as r:
            assert r.status == status
            assert await r.read() == body
        assert await qp.app_count(s) == before + 1  # only our /count call itself


async def test_breaker_limits_and_queues_fifo(start_qp):
    qp = start_qp(CONTAINER_CONCURRENCY="1")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:

        async def get(i: int, ms: int = 300):
            async with s.get(f"{qp.url}/order?id={i}&ms={ms}") as r:
                return r.status, await r.text()

        first = asyncio.ensure_future(get(0, 600))
        await asyncio.sleep(0.2)
        queued = []
        for i in range(1, 11):  # 10 × CC may wait
            queued.append(asyncio.ensure_future(get(i, 10)))
            await asyncio.sleep(0.02)  # arrival order is the FIFO order to check
        status, text = await get(99)  # the 12th: beyond 11 × CC
        assert status == 503 and text.startswith("pending request queue full (request id ")
        results = await asyncio.gather(first, *queued)
        assert [r[0] for r in results] == [200] * 11
        async with s.get(f"http://127.0.0.1:{qp.app.port}/log") as r:
            assert await r.json() == [str(i) for i in range(11)]


async def test_disconnected_client_frees_its_queue_place(start_qp):
    qp = start_qp(CONTAINER_CONCURRENCY="1")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        hold = asyncio.ensure_future(s.get(f"{qp.url}/sleep?ms=800"))
        await asyncio.sleep(0.2)
        # fill the queue with raw clients, then drop them all
        writers = []
        for i in range(10):
            _, w = await asyncio.open_connection("127.0.0.1", qp.port)
            w.write(f"GET /order?id=gone{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await w.drain()
            writers.append(w)
        await asyncio.sleep(0.2)
        for w in writers:
            w.close()
            await w.wait_closed()
        await asyncio.sleep(0.2)
        # their places are free: 10 new requests queue instead of being rejected
        statuses = await asyncio.gather(*(_status(s, f"{qp.url}/order?id=new{i}") for i in range(10)))
        assert statuses == [200] * 10
        (await hold).release()
        async with s.get(f"http://127.0.0.1:{qp.app.port}/log") as r:
            assert not [x for x in await r.json() if x.startswith("gone")]


async def _status(s: aiohttp.ClientSession, url: str) -> int:
    async with s.get(url) as r:
        await r.read()
        return r.status


async def test_total_timeout_gives_504_before_response(start_qp):
    qp = start_qp(REVISION_TIMEOUT_SECONDS="1")
    async with aiohttp.ClientSession() as s:
        started = time.monotonic()
        async with s.get(qp.url + "/sleep?ms=5000") as r:
            assert r.status == 504
            assert (await r.text()).startswith("request timeout (request id ")
        assert time.monotonic() - started < 4


async def test_total_timeout_cuts_a_started_response(start_qp):
    qp = start_qp(REVISION_TIMEOUT_SECONDS="1")
    reply = await raw_exchange(qp.port, b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert status_of(reply) == 200
    assert b"started" in reply
    assert not reply.endswith(b"0\r\n\r\n")  # cut, not completed


async def test_response_start_timeout(start_qp):
    qp = start_qp(REVISION_TIMEOUT_SECONDS="30", REVISION_RESPONSE_START_TIMEOUT_SECONDS="1")
    reply = await raw_exchange(qp.port, b"GET /sleep?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert status_of(reply) == 504
    # a response that started in time is not limited by it
    reply = await raw_exchange(qp.port, b"GET /stream?n=4&ms=400 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
    assert status_of(reply) == 200 and b"chunk3" in reply


async def test_idle_timeout_cuts_a_silent_response(start_qp):
    qp = start_qp(REVISION_IDLE_TIMEOUT_SECONDS="1")
    started = time.monotonic()
    reply = await raw_exchange(qp.port, b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n", timeout=6)
    assert status_of(reply) == 200 and b"started" in reply
    assert time.monotonic() - started < 4


async def test_app_refusing_connections_gives_502(start_qp):
    qp = start_qp()
    qp.app.stop()
    async with aiohttp.ClientSession() as s:
        async with s.get(qp.url + "/") as r:
            assert r.status == 502
            assert "dial 127.0.0.1" in await r.text()


async def test_app_dropping_the_connection_gives_502(start_qp):
    qp = start_qp()
    async with aiohttp.ClientSession() as s:
        async with s.get(qp.url + "/drop") as r:
            assert r.status == 502
            assert "upstream" in await r.text()
        async with s.get(qp.url + "/") as r:  # and the proxy goes on serving
            assert r.status == 200


async def test_stats_endpoint_json_and_protobuf(start_qp):
    qp = start_qp()
    stats = f"http://127.0.0.1:{qp.ports['stats']}/metrics"
    async with aiohttp.ClientSession() as s:
        async with s.get(stats) as r:  # opens a fresh window
            await r.read()
        await asyncio.gather(*(_status(s, qp.url + "/sleep?ms=500") for _ in range(4)))
        await _status(s, qp.url + "/")  # a proxied request
        async with s.get(qp.url + "/", headers={"K-Proxy-Request": "activator"}) as r:
            await r.read()
        async with s.get(stats, headers={"Accept": "application/protobuf"}) as r:
            assert r.headers["Content-Type"] == "application/protobuf"
            stat = Stat.from_proto(await r.read())
        assert stat.pod_name == "hello-00001-pod"
        assert stat.average_concurrent_requests > 0.5  # 4 requests × 0.5 s in a window of a little over 0.5 s
        assert stat.request_count > 0 and stat.proxied_request_count > 0
        await asyncio.sleep(0.6)
        async with s.get(stats) as r:
            assert r.headers["Content-Type"].startswith("application/json")
            idle = json.loads(await r.read())
        assert idle.get("averageConcurrentRequests", 0) == 0


async def test_prometheus_metrics(start_qp):
    qp = start_qp(CONTAINER_CONCURRENCY="2")
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/status?code=404", "/status?code=500"):
            await _status(s, qp.url + path)
        async with s.get(f"http://127.0.0.1:{qp.ports['metrics']}/metrics") as r:
            text = await r.text()
    assert (
        'revision_request_count{configuration_name="hello",container_name="queue-proxy",namespace_name="default",'
        'pod_name="hello-00001-pod",response_code="200",response_code_class="2xx",revision_name="hello-00001",service_name=""} 1.0'
    ) in text
    assert 'response_code="404",response_code_class="4xx",revision_name="hello-00001",service_name=""} 1.0' in text
    assert 'response_code="500",response_code_class="5xx",revision_name="hello-00001",service_name=""} 1.0' in text
    assert "revision_request_latencies_count" in text
    assert "revision_queue_depth{" in text and "revision_in_flight_requests{" in text


async def test_drain_on_sigterm(start_qp):
    qp = start_qp(QUEUE_DRAIN_QUIET_PERIOD_SECONDS="1")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        long = asyncio.ensure_future(_status(s, qp.url + "/sleep?ms=2500"))
        await asyncio.sleep(0.3)
        qp.proc.signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        async with s.get(qp.url + "/", headers={"K-Network-Probe": "queue"}) as r:
            assert r.status == 503
            assert await r.text() == "shutting down"
        assert await _status(s, qp.url + "/") == 200  # requests are still served
        drain = asyncio.ensure_future(_status(s, f"http://127.0.0.1:{qp.ports['admin']}/wait-for-drain"))
        assert await long == 200  # never cut
        assert await drain == 200
    assert await asyncio.to_thread(qp.proc.wait, 10) == 0


async def test_missing_required_env_is_named():
    proc = Proc(dataplane_cmd("queue-proxy"), env={"CONTAINER_CONCURRENCY": "1", "USER_PORT": "8080"})
    assert proc.wait(10) == 2
    out = proc.output()
    proc.stop()
    assert "REVISION_TIMEOUT_SECONDS" in out


def test_starts_without_argparse():
    # the sidecar takes no flags: `dataplane queue-proxy` alone skips the CLI parser (about 1 MB per pod)
    code = (
        "import sys\n"
        "from dataplane.cli.main import main\n"
        "rc = main(['queue-proxy'])\n"
        "print(rc, sorted(m for m in ('argparse', 'gettext', 'shutil') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr
    assert "USER_PORT is not set" in out.stderr
    # with a flag it goes through argparse as every other program does
    help_out = subprocess.run([sys.executable, "-m", "dataplane", "queue-proxy", "--help"], capture_output=True, text=True, timeout=30)
    assert help_out.returncode == 0 and "CONTAINER_CONCURRENCY" in help_out.stdout


async def test_websocket_is_tunnelled(start_qp):
    qp = start_qp(CONTAINER_CONCURRENCY="1")
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(qp.url + "/ws") as ws:
            await ws.send_str("hi")
            assert (await ws.receive()).data == "echo:hi"
            await ws.send_str("again")
            assert (await ws.receive()).data == "echo:again"


async def test_large_bodies_stream_both_ways(start_qp):
    qp = start_qp()
    body = bytes(range(256)) * 40000  # ~10 MB
    async with aiohttp.ClientSession() as s:
        async with s.post(qp.url + "/echo", data=io.BytesIO(body)) as r:
            seen = await r.json()
        assert seen["length"] == len(body)

        async def chunks():
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        async with s.post(qp.url + "/echo", data=chunks()) as r:  # chunked request body
            seen2 = await r.json()
        assert seen2["sha256"] == seen["sha256"]
        async with s.get(qp.url + "/big?n=5000000") as r:
            assert len(await r.read()) == 5000000


async def test_pipelined_requests_answered_in_order(start_qp):
    qp = start_qp()
    reqs = b"".join(f"GET /order?id=p{i}&ms={30 - i * 10} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(3))
    reply = await raw_exchange(qp.port, reqs + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
    bodies = [part for part in reply.split(b"HTTP/1.1 200 OK")[1:]]
    assert len(bodies) == 4
    assert [b.rsplit(b"\r\n\r\n", 1)[1] for b in bodies] == [b"p0", b"p1", b"p2", b"hello"]


async def test_http10_client_and_head_and_expect(start_qp):
    qp = start_qp()
    reply = await raw_exchange(qp.port, b"GET /stream?n=2&ms=1 HTTP/1.0\r\n\r\n", timeout=5)
    assert reply.startswith(b"HTTP/1.0 200")
    assert body_of(reply) == b"chunk0\nchunk1\n"  # de-chunked for HTTP/1.0, closed at the end
    reply = await raw_exchange(qp.port, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
    assert status_of(reply) == 200 and body_of(reply) == b""
    reply = await raw_exchange(
        qp.port,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc",
        timeout=5,
    )
    assert status_of(reply) in (100, 200)
    assert b'"length":3' in reply.replace(b" ", b"")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
        (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"garbage\r\n\r\n", 400),
    ],
)
async def test_bad_input_is_rejected_and_never_forwarded(start_qp, request_bytes, status):
    qp = start_qp()
    async with aiohttp.ClientSession() as s:
        before = await qp.app_count(s)
        reply = await raw_exchange(qp.port, request_bytes, timeout=5)
        assert status_of(reply) == status
        assert b"Connection: close" in reply
        assert await qp.app_count(s) == before + 1


async def test_slow_headers_get_408(start_qp):
    qp = start_qp(QUEUE_HEADER_TIMEOUT_SECONDS="0.5")
    reply = await raw_exchange(qp.port, b"GET / HTTP/1.1\r\nHost: x\r\n", timeout=5)
    assert status_of(reply) == 408

"""HTTP/2 through a real queue-proxy: curl, h2load and grpcio clients, to an HTTP/1.1 app and to h2c apps.

Each test runs on the build the suite runs on (the queue-proxy child inherits
DATAPLANE_NO_EXTENSIONS), so both sessions serve it: libnghttp2 and ``h2``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from dataplane.http.h2session import Session
from dataplane.ports import free_port
from tests.integration.test_h2_socket import EchoServer, run
from tests.support import ROOT, Proc, dataplane_cmd, queue_proxy_env, start_pod
from tests.twins import load

MAX = 32 * 1024 * 1024
GRPC_OPTIONS = [("grpc.max_receive_message_length", MAX), ("grpc.max_send_message_length", MAX)]


def start_qp(app_port: int, **env: str):
    ports, base = queue_proxy_env(app_port)
    base.update(env)
    return Proc(dataplane_cmd("queue-proxy"), env=base, port=ports["serving"]), ports


@pytest.fixture
def grpc_pod(request):
    """A gRPC app on an h2c port behind a queue-proxy with containerConcurrency 1."""
    extra = getattr(request, "param", {})
    app_port = free_port()
    app = Proc([sys.executable, str(ROOT / "tests" / "apps" / "grpcapp.py"), str(app_port)], port=app_port)
    try:
        qp, ports = start_qp(app_port, CONTAINER_CONCURRENCY="1", USER_PROTOCOL="h2c", **extra)
    except Exception:
        app.stop()
        raise
    channel = grpc.insecure_channel(f"127.0.0.1:{ports['serving']}", options=GRPC_OPTIONS)
    try:
        yield channel, qp, ports
    finally:
        channel.close()
        qp.stop()
        app.stop()


@pytest.fixture
def pod():
    p = start_pod()
    try:
        yield p
    finally:
        p.stop()


# -- an HTTP/1.1 app: requests translated -------------------------------------------------------------


async def test_curl_http2_to_an_http1_app(pod, tmp_path):
    body = os.urandom(300_000)  # past every window on the way: both sessions wait on WINDOW_UPDATEs
    (tmp_path / "body").write_bytes(body)
    rc, out = await run(
        "curl", "-sS", "--http2-prior-knowledge", "-D", str(tmp_path / "head"),
        "--data-binary", f"@{tmp_path / 'body'}", f"{pod.url}/echo?a=1",
    )
    assert rc == 0, out
    seen = json.loads(out)
    assert (seen["method"], seen["path"], seen["version"]) == ("POST", "/echo?a=1", "1.1")
    assert (seen["length"], seen["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    names = {name.lower(): value for name, value in seen["headers"]}
    assert names["x-forwarded-for"] == "127.0.0.1" and "x-request-id" in names
    head = (tmp_path / "head").read_text()
    assert head.startswith("HTTP/2 200")
    assert f"x-request-id: {names['x-request-id']}" in head
    # a chunked response is decoded into DATA frames; a large one passes intact
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", f"{pod.url}/stream?n=3&ms=10")
    assert (rc, out) == (0, "chunk0\nchunk1\nchunk2\n")
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{size_download}", f"{pod.url}/big?n=5000000")
    assert (rc, out) == (0, "2 5000000")
    # HTTP/1.1 on the same port as before
    rc, out = await run("curl", "-sS", "-w", " %{http_version}", f"{pod.url}/")
    assert (rc, out) == (0, "hello 1.1")


async def test_probes_over_http2_are_answered_as_over_http1_and_never_reach_the_app(pod):
    probes = [
        (("-H", "K-Network-Probe: queue"), "queue 200"),  # the activator's and the kubelet's readiness probe
        (("-H", "K-Network-Probe: probe", "-H", "K-Network-Hash: abc"), "abc 200"),  # the ingress's
        (("-H", "K-Network-Probe: probe"), "a network probe needs a K-Network-Hash header 400"),
        (("-A", "kube-probe/1.31"), "unexpected probe header value:  400"),  # as Knative's queue-proxy says
    ]
    for flags, answer in probes:
        for version, extra in (("2", ("--http2-prior-knowledge",)), ("1.1", ())):
            rc, out = await run("curl", "-sS", *extra, *flags, "-w", " %{http_code} %{http_version}", f"{pod.url}/echo")
            assert (rc, out) == (0, f"{answer} {version}"), flags
    # none of them reached the app: its count holds only this request
    rc, out = await run("curl", "-sS", f"http://127.0.0.1:{pod.app.port}/count")
    assert (rc, out.strip()) == (0, "1")


async def test_h2load_through_the_queue_proxy_has_no_errors(pod):
    rc, out = await run("h2load", "-n", "2000", "-c", "4", "-m", "10", f"{pod.url}/")
    assert rc == 0, out
    found = re.search(r"requests: 2000 total, 2000 started, 2000 done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    assert found and found.groups() == ("2000", "0", "0"), out


async def test_a_protocol_violation_ends_only_its_own_connection(pod):
    reader, writer = await asyncio.open_connection("127.0.0.1", pod.port)
    # the preface, then a DATA frame on stream 0: a connection error (RFC 9113 §6.1)
    writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    data = b""
    while True:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        data += chunk
    writer.close()
    assert b"\x07\x00\x00\x00\x00\x00" in data  # a GOAWAY frame came before the close
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", f"{pod.url}/")
    assert (rc, out) == (0, "hello")


# -- an h2c app: streams multiplexed ---------------------------------------------------------------------


@pytest.fixture
async def h2c_app():
    module = load(Session.__module__)  # the app's session on the build under test, like the proxy's
    server = await asyncio.get_running_loop().create_server(lambda: EchoServer(module), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_curl_and_h2load_http2_to_an_h2c_app(h2c_app, tmp_path):
    qp, ports = await asyncio.to_thread(start_qp, h2c_app, USER_PROTOCOL="h2c")
    try:
        url = f"http://127.0.0.1:{ports['serving']}/hi"
        (tmp_path / "body").write_bytes(b"ping" * 50000)
        rc, out = await run("curl", "-sS", "--http2-prior-knowledge", "--data-binary", f"@{tmp_path / 'body'}", url)
        assert (rc, out) == (0, "POST /hi\n" + "ping" * 50000)
        rc, out = await run("h2load", "-n", "500", "-c", "2", "-m", "10", url)
        found = re.search(r"requests: 500 total, 500 started, 500 done, (\d+) succeeded, (\d+) failed", out)
        assert found and found.groups() == ("500", "0"), out
    finally:
        qp.stop()


# -- gRPC ----------------------------------------------------------------------------------------


def test_grpc_unary_and_streaming_calls(grpc_pod):
    channel, _, _ = grpc_pod
    assert channel.unary_unary("/test.Echo/Unary")(b"hi", timeout=10) == b"hi"
    assert list(channel.unary_stream("/test.Echo/ServerStream")(b"3", timeout=10)) == [b"msg0", b"msg1", b"msg2"]
    assert channel.stream_unary("/test.Echo/ClientStream")(iter([b"a", b"b", b"c"]), timeout=10) == b"abc"
    assert list(channel.stream_stream("/test.Echo/Bidi")(iter([b"x", b"y", b"z"]), timeout=10)) == [b"x", b"y", b"z"]


def test_grpc_sixteen_mib_message_passes_intact(grpc_pod):
    channel, _, _ = grpc_pod
    message = os.urandom(16 * 1024 * 1024)
    assert channel.unary_unary("/test.Echo/Unary")(message, timeout=60) == message


def test_grpc_calls_on_one_channel_queue_in_order_for_concurrency_one(grpc_pod):
    channel, _, _ = grpc_pod
    unary = channel.unary_unary("/test.Echo/Unary")
    unary(b"warm", timeout=10)  # the channel is connected: the calls below share one connection
    results = {}

    def call(i):
        results[i] = unary(b"sleep:200:%d" % i, timeout=20)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(5)]
    started = time.monotonic()
    for t in threads:
        t.start()
        time.sleep(0.03)  # arrival order 0..4
    for t in threads:
        t.join()
    assert results == {i: b"sleep:200:%d" % i for i in range(5)}
    assert time.monotonic() - started >= 1.0  # one at a time: five times 200 ms
    stats = channel.unary_unary("/test.Echo/Stats")(b"", timeout=10)
    assert stats == b"max=1;order=0,1,2,3,4"


def test_grpc_call_past_a_full_queue_is_unavailable(grpc_pod):
    channel, _, _ = grpc_pod
    unary = channel.unary_unary("/test.Echo/Unary")
    # containerConcurrency 1: one running and ten queued fill the breaker (11 slots)
    held = [unary.future(b"sleep:1500:%d" % i, timeout=30) for i in range(11)]
    time.sleep(0.5)
    with pytest.raises(grpc.RpcError) as refused:
        unary(b"one too many", timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "pending request queue full" in refused.value.details()
    # the connection lives on: the held calls finish
    assert [f.result() for f in held[:2]] == [b"sleep:1500:0", b"sleep:1500:1"]
    for f in held:
        f.cancel()


@pytest.mark.parametrize("grpc_pod", [{"REVISION_TIMEOUT_SECONDS": "1"}], indirect=True)
def test_grpc_revision_timeout_is_deadline_exceeded(grpc_pod):
    channel, _, _ = grpc_pod
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as late:
        channel.unary_unary("/test.Echo/Unary")(b"sleep:3000:slow")  # no deadline of its own
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "request timeout" in late.value.details()
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("grpc_pod", [{"REVISION_TIMEOUT_SECONDS": "1"}], indirect=True)
def test_grpc_stream_past_the_revision_timeout_ends_with_deadline_exceeded_after_whole_messages(grpc_pod):
    channel, _, _ = grpc_pod
    got = []
    with pytest.raises(grpc.RpcError) as late:
        for message in channel.unary_stream("/test.Echo/ServerStream")(b"10:300"):
            got.append(message)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "request timeout" in late.value.details()
    assert 2 <= len(got) < 10 and got == [b"msg%d" % i for i in range(len(got))]


class RawClient(asyncio.Protocol):
    """An h2c client on the session twin, recording what comes back per stream."""

    def __init__(self):
        self.session = Session(self, client=True)
        self.transport = None
        self.heads: dict[int, list] = {}
        self.ended: dict[int, asyncio.Future] = {}
        self.goaway = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.session.initiate()
        self.flush()

    def data_received(self, data):
        self.session.receive(data)
        self.flush()

    def flush(self):
        out = self.session.data_to_send()
        if out:
            self.transport.write(out)

    def request(self, headers, body: bytes) -> int:
        sid = self.session.send_request(headers, end_stream=not body)
        if body:
            self.session.send_data(sid, body, end_stream=True)
        self.ended[sid] = asyncio.get_running_loop().create_future()
        self.flush()
        return sid

    def on_headers(self, sid, headers):
        self.heads.setdefault(sid, []).extend(headers)

    def on_trailers(self, sid, headers):
        self.heads.setdefault(sid, []).extend(headers)

    def on_data(self, sid, data):
        self.session.consumed(sid, len(data))

    def on_end(self, sid):
        if not self.ended[sid].done():
            self.ended[sid].set_result(dict(self.heads[sid]))

    def on_reset(self, sid, code):
        if not self.ended[sid].done():
            self.ended[sid].set_exception(ConnectionResetError(code))

    def on_goaway(self, code, last):
        if not self.goaway.done():
            self.goaway.set_result((code, last))

    def on_window_update(self, sid):
        pass

    def on_settings_acked(self):
        pass


def grpc_request(port: int, path: bytes, message: bytes, *extra) -> tuple[list, bytes]:
    headers = [
        (b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"127.0.0.1:%d" % port), (b":path", path),
        (b"content-type", b"application/grpc"), (b"te", b"trailers"), *extra,
    ]
    return headers, b"\x00" + len(message).to_bytes(4, "big") + message


async def test_grpc_timeout_shorter_than_the_revision_timeout_wins(grpc_pod):
    _, _, ports = grpc_pod
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(RawClient, "127.0.0.1", ports["serving"])
    try:
        started = loop.time()
        # no deadline on the client's side: only the queue-proxy can end this call early
        sid = client.request(*grpc_request(ports["serving"], b"/test.Echo/Unary", b"sleep:3000:x", (b"grpc-timeout", b"300m")))
        head = await asyncio.wait_for(client.ended[sid], 5)
        assert loop.time() - started < 2.0
        assert head[b":status"] == b"200" and head[b"grpc-status"] == b"4"
        assert head[b"grpc-message"].startswith(b"request timeout")
    finally:
        transport.close()


@pytest.mark.parametrize("grpc_pod", [{"QUEUE_DRAIN_QUIET_PERIOD_SECONDS": "0.5"}], indirect=True)
async def test_sigterm_sends_goaway_at_once_and_the_stream_in_flight_finishes(grpc_pod):
    _, qp, ports = grpc_pod
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(RawClient, "127.0.0.1", ports["serving"])
    try:
        sid = client.request(*grpc_request(ports["serving"], b"/test.Echo/Unary", b"sleep:1500:drain"))
        await asyncio.sleep(0.3)
        qp.signal(signal.SIGTERM)
        code, last = await asyncio.wait_for(client.goaway, 1.0)  # long before the stream ends
        assert (code, last) == (0, sid)
        assert not client.ended[sid].done()
        head = await asyncio.wait_for(client.ended[sid], 5)
        assert head[b"grpc-status"] == b"0"
    finally:
        transport.close()
    assert await asyncio.to_thread(qp.wait, 40) == 0


async def queue_health(port: int) -> str:
    rc, out = await run("curl", "-sS", "-H", "K-Network-Probe: queue", "-w", " %{http_code}", f"http://127.0.0.1:{port}/")
    assert rc == 0, out
    return out


def set_app_health(port: int, status: str) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        channel.unary_unary("/test.Echo/SetHealth")(f"test.Echo={status}".encode(), timeout=5)


async def test_a_grpc_readiness_probe_follows_the_apps_health_service():
    app_port = free_port()
    app = await asyncio.to_thread(Proc, [sys.executable, str(ROOT / "tests" / "apps" / "grpcapp.py"), str(app_port), "NOT_SERVING"], port=app_port)
    probe = {"grpc": {"port": app_port, "service": "test.Echo"}, "periodSeconds": 1, "timeoutSeconds": 1}
    try:
        qp, ports = await asyncio.to_thread(start_qp, app_port, USER_PROTOCOL="h2c", SERVING_READINESS_PROBE=json.dumps(probe))
    except Exception:
        app.stop()
        raise
    try:
        # the app's port accepts from the start: a TCP connect would call it ready
        assert await queue_health(ports["serving"]) == "app is not ready 503"
        await asyncio.to_thread(set_app_health, app_port, "SERVING")
        assert await queue_health(ports["serving"]) == "queue 200"
        await asyncio.to_thread(set_app_health, app_port, "NOT_SERVING")
        assert await queue_health(ports["serving"]) == "app is not ready 503"
    finally:
        qp.stop()
        app.stop()


def test_a_second_serving_port_serves_both_protocols(pod):
    second = free_port()
    qp, _ = start_qp(pod.app.port, QUEUE_SERVING_H2C_PORT=str(second))
    try:
        url = f"http://127.0.0.1:{second}/"
        for args, expected in ((["--http2-prior-knowledge"], b"hello 2"), ([], b"hello 1.1")):
            out = subprocess.run(["curl", "-sS", *args, "-w", " %{http_version}", url], capture_output=True, timeout=20)
            assert out.stdout == expected, out.stderr
    finally:
        qp.stop()


@pytest.mark.parametrize(
    "bad", [(b":path", b"/a HTTP/1.1"), (b":method", b"GET /x"), (b":authority", b"a b"), (b"x-y", b"a\x01b")]
)
async def test_a_request_http1_would_read_differently_never_reaches_the_app(pod, bad):
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(RawClient, "127.0.0.1", pod.port)
    try:
        _, before = await run("curl", "-sS", f"http://127.0.0.1:{pod.app.port}/count")
        head = dict([(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")])
        head[bad[0]] = bad[1]
        sid = client.request(list(head.items()), b"")
        with pytest.raises(ConnectionResetError) as reset:
            await asyncio.wait_for(client.ended[sid], 5)
        assert reset.value.args == (1,)  # RST_STREAM PROTOCOL_ERROR, on either build
        _, after = await run("curl", "-sS", f"http://127.0.0.1:{pod.app.port}/count")
        assert int(after) == int(before) + 1  # only the count request itself reached the app
        sid = client.request([(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")], b"")
        assert (await asyncio.wait_for(client.ended[sid], 5))[b":status"] == b"200"  # the connection goes on
    finally:
        transport.close()


class HoldingApp(EchoServer):
    """An h2c app that takes request bytes only when released, then answers with ``BIG`` bytes."""

    BIG = os.urandom(2 * 1024 * 1024)

    def __init__(self, module):
        super().__init__(module)
        self.hold = True
        self.received = 0
        self.sids = []

    def on_headers(self, stream_id, headers):
        self.sids.append(stream_id)
        self.requests[stream_id] = [dict(headers), []]

    def on_data(self, stream_id, data):
        self.received += len(data)
        self.requests[stream_id][1].append(data)
        if not self.hold:
            self.session.consumed(stream_id, len(data))

    def release(self):
        self.hold = False
        for sid in self.sids:
            self.session.consumed(sid, sum(map(len, self.requests.get(sid, [None, []])[1])))
        self.flush()

    def on_end(self, stream_id):
        self.requests.pop(stream_id)
        self.session.send_headers(stream_id, [(b":status", b"200"), (b"content-length", b"%d" % len(self.BIG))])
        self.pending[stream_id] = self.BIG
        self.send_pending(stream_id)


class PushingClient(RawClient):
    """Sends a body as the windows allow; holds response bytes unread until released."""

    def __init__(self):
        super().__init__()
        self.body = b""
        self.sent = 0
        self.sid = 0
        self.hold = True
        self.got = bytearray()
        self.unread = 0

    def upload(self, headers, body):
        self.body = body
        self.sid = self.session.send_request(headers)
        self.ended[self.sid] = asyncio.get_running_loop().create_future()
        self.push()

    def push(self):
        room = self.session.send_window(self.sid)
        left = len(self.body) - self.sent
        if left and room:
            n = min(room, left)
            self.session.send_data(self.sid, self.body[self.sent : self.sent + n], end_stream=n == left)
            self.sent += n
        self.flush()

    def on_window_update(self, sid):
        if self.sid and self.sent < len(self.body):
            self.push()

    def on_data(self, sid, data):
        self.got += data
        if self.hold:
            self.unread += len(data)
        else:
            self.session.consumed(sid, len(data))

    def release(self):
        self.hold = False
        self.session.consumed(self.sid, self.unread)
        self.flush()


async def test_flow_control_holds_no_more_than_the_windows_in_either_direction():
    loop = asyncio.get_running_loop()
    apps = []

    def make():
        apps.append(HoldingApp(load(Session.__module__)))
        return apps[-1]

    server = await loop.create_server(make, "127.0.0.1", 0)
    qp, ports = await asyncio.to_thread(start_qp, server.sockets[0].getsockname()[1], USER_PROTOCOL="h2c")
    window = 65535  # every session's initial stream and connection window
    try:
        transport, client = await loop.create_connection(PushingClient, "127.0.0.1", ports["serving"])
        body = os.urandom(2 * 1024 * 1024)
        client.upload([(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/up")], body)
        await asyncio.sleep(1.0)
        # the app takes nothing: the client could send its window to the proxy and the proxy the
        # app's window to the app, no more
        app = next(a for a in apps if a.sids)  # not the readiness probe's connection
        assert 0 < app.received <= window and client.sent <= 2 * window
        app.release()
        await asyncio.sleep(1.0)
        assert app.received == len(body)
        # now the client reads nothing: the app can send the client's window and the proxy's, no more
        unsent = len(app.pending.get(app.sids[0], b""))
        assert unsent >= len(HoldingApp.BIG) - 2 * window
        client.release()
        await asyncio.wait_for(client.ended[client.sid], 10)
        assert bytes(client.got) == HoldingApp.BIG
        transport.close()
    finally:
        qp.stop()
        server.close()
        await server.wait_closed()

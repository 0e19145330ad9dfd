"""HTTP/2 through a real activator (as the router: routed by ``:authority``) to real queue-proxies over h2c.

grpcio, curl and h2load clients; gRPC apps on h2c ports and the HTTP/1.1 test app.
Each test runs on the build the suite runs on (the children inherit
DATAPLANE_NO_EXTENSIONS), so both sessions serve it: libnghttp2 and ``h2``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import Counter

import grpc
import pytest

from dataplane.ports import free_port
from tests.integration.test_activator import NS, Rig, revision
from tests.integration.test_h2_socket import run
from tests.support import ROOT, Pod, Proc, dataplane_cmd, queue_proxy_env

HOST = "hello.default.example.com"
ROUTES = [{"namespace": NS, "name": "hello", "hosts": [HOST], "traffic": [{"revisionName": "hello-00001", "percent": 100}]}]


def start_grpc_pod(**env: str) -> Pod:
    """The gRPC test app on an h2c port behind a queue-proxy told so (USER_PROTOCOL=h2c)."""
    app_port = free_port()
    app = Proc([sys.executable, str(ROOT / "tests" / "apps" / "grpcapp.py"), str(app_port)], port=app_port)
    ports, base = queue_proxy_env(app_port)
    base.update(USER_PROTOCOL="h2c", **env)
    try:
        qp = Proc(dataplane_cmd("queue-proxy"), env=base, port=ports["serving"])
    except Exception:
        app.stop()
        raise
    return Pod(app, qp, ports)


@pytest.fixture
async def router():
    """The activator as `dataplane up` runs it: routes by Host (here ``:authority``), trusts no revision header."""
    rig = Rig()
    try:
        yield rig
    finally:
        await rig.stop()


async def grpc_pods(rig: Rig, n: int, **env: str) -> list[Pod]:
    pods = await asyncio.gather(*(asyncio.to_thread(start_grpc_pod, **env) for _ in range(n)))
    rig.pods.extend(pods)
    return list(pods)


def channel_to(rig: Rig) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{rig.port}", options=[("grpc.default_authority", HOST)])


async def test_grpc_unary_and_streaming_calls_through_the_router(router):
    await router.start("--max-queued", "2", trust_revision_headers=False)
    router.directory.publish([revision("hello-00001", [])], ROUTES)
    await router.settle()
    channel = channel_to(router)
    try:
        unary = channel.unary_unary("/test.Echo/Unary")
        # no pod yet: the calls wait in the revision's queue (two places) ...
        held = [unary.future(b"held:%d" % i, timeout=30) for i in range(2)]
        await asyncio.sleep(0.5)
        assert not any(f.done() for f in held)
        # ... and a third finds it full: that call alone is UNAVAILABLE, the connection lives on
        with pytest.raises(grpc.RpcError) as refused:
            await asyncio.to_thread(unary, b"one too many", timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert refused.value.details().startswith("revision queue is full")
        # a pod comes up (as from zero): the waiting calls go to it and succeed
        [pod] = await grpc_pods(router, 1)
        router.directory.publish([revision("hello-00001", [pod])], ROUTES)
        assert [await asyncio.to_thread(f.result) for f in held] == [b"held:0", b"held:1"]

        def calls():
            return (
                unary(b"hi", timeout=10),
                list(channel.unary_stream("/test.Echo/ServerStream")(b"3:20", timeout=10)),
                channel.stream_unary("/test.Echo/ClientStream")(iter([b"a", b"b", b"c"]), timeout=10),
                list(channel.stream_stream("/test.Echo/Bidi")(iter([b"x", b"y", b"z"]), timeout=10)),
            )

        assert await asyncio.to_thread(calls) == (b"hi", [b"msg0", b"msg1", b"msg2"], b"abc", [b"x", b"y", b"z"])
        # the response went through the activator: its wait header, and the request's id
        _, call = await asyncio.to_thread(unary.with_call, b"meta", timeout=10)
        names = dict(call.initial_metadata())
        assert "x-activator-wait-ms" in names and "x-request-id" in names
    finally:
        channel.close()


async def test_one_channel_spreads_its_calls_over_every_pod(router):
    await router.start(trust_revision_headers=False)
    pods = await grpc_pods(router, 3)
    router.directory.publish([revision("hello-00001", pods, cc=1)], ROUTES)
    await router.settle()
    channel = channel_to(router)
    try:
        where = channel.unary_unary("/test.Echo/Where")
        assert await asyncio.to_thread(where, b"", timeout=20)  # connected: the calls below share one connection
        # containerConcurrency 1: six calls at once on one connection can only run two per pod
        started = time.monotonic()
        futures = [where.future(b"400", timeout=20) for _ in range(6)]
        answered = [await asyncio.to_thread(f.result) for f in futures]
        assert Counter(answered) == {str(p.app.port).encode(): 2 for p in pods}
        assert time.monotonic() - started < 2.0  # three at a time, not one
    finally:
        channel.close()


async def test_curl_and_h2load_through_the_router_to_an_http1_app(router, tmp_path):
    await router.start(trust_revision_headers=False)
    pod = await router.pod()
    router.directory.publish([revision("hello-00001", [pod])], ROUTES)
    await router.settle()
    (tmp_path / "body").write_bytes(b"ping" * 50000)
    # a client's copies of the platform's internal headers are dropped over HTTP/2 as over HTTP/1.1:
    # none picks a revision, nor the Host the app sees
    rc, out = await run(
        "curl", "-sS", "--http2-prior-knowledge", "-H", f"Host: {HOST}", "-D", str(tmp_path / "head"),
        "-H", "Knative-Serving-Revision: other-00001", "-H", "Knative-Serving-Namespace: default",
        "-H", "K-Original-Host: evil.example.com", "-H", "K-Proxy-Request: activator",
        "--data-binary", f"@{tmp_path / 'body'}", f"{router.url}/echo",
    )  # fmt: skip
    assert rc == 0, out
    head = (tmp_path / "head").read_text().lower()
    assert head.startswith("http/2 200") and "x-activator-wait-ms: " in head, head
    seen = json.loads(out)
    assert (seen["version"], seen["length"]) == ("1.1", 200000)  # translated to HTTP/1.1 by the queue-proxy
    names = {k.lower(): v for k, v in seen["headers"]}
    assert names["host"] == HOST  # the client's :authority, as Host
    assert not {"knative-serving-revision", "knative-serving-namespace", "k-original-host", "k-proxy-request"} & set(names)
    assert names["x-forwarded-for"] == "127.0.0.1, 127.0.0.1" and names["x-forwarded-proto"] == "http"
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", "-H", "Host: nowhere.example.com", "-w", " %{http_code}", f"{router.url}/")
    assert rc == 0 and out.endswith(" 404") and "no route for host nowhere.example.com" in out, out
    rc, out = await run("h2load", "-n", "600", "-c", "3", "-m", "10", "-H", f":authority: {HOST}", f"{router.url}/")
    assert rc == 0, out
    found = re.search(r"requests: 600 total, 600 started, 600 done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    assert found and found.groups() == ("600", "0", "0"), out
    # HTTP/1.1 on the same port, as before
    rc, out = await run("curl", "-sS", "-H", f"Host: {HOST}", "-w", " %{http_version}", f"{router.url}/")
    assert (rc, out) == (0, "hello 1.1")

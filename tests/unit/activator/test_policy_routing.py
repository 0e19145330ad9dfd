"""ActivatorPolicy: which revision a request is for, what goes to the pod, probes, directory changes."""

from __future__ import annotations

from collections import Counter

import pytest

from dataplane.activator.policy import HOSTNAME_CACHE
from dataplane.directory import RevisionInfo, RouteTable, parse_snapshot
from tests.unit.activator.rig import NS, OK, request

HOST = "hello.default.example.com"
KEY1, KEY2 = (NS, "hello-00001"), (NS, "hello-00002")


def split_routes(percents=(50, 50)) -> RouteTable:
    doc = {
        "version": 3,
        "routes": [
            {
                "namespace": NS,
                "name": "hello",
                "hosts": [HOST],
                "traffic": [{"revisionName": "hello-00001", "percent": percents[0]}, {"revisionName": "hello-00002", "percent": percents[1]}],
                "tagHosts": {"v1-" + HOST: "hello-00001"},
            }
        ],
    }
    return parse_snapshot(doc).routes


# -- routing by headers --------------------------------------------------------------------------


def test_header_routing_forwards_with_activator_headers_and_no_wait(rig):
    throttler = rig.revision("hello-00001")
    client = rig.client()
    client.send(request("/p?q=1", revision="hello-00001", headers=(("X-Keep", "1"),)))
    [(pod, up, data)] = rig.forwarded()
    assert pod is rig.pods[0]
    assert data == (
        b"GET /p?q=1 HTTP/1.1\r\n"
        b"Host: hello.default.example.com\r\n"
        b"X-Keep: 1\r\n"
        b"X-Request-Id: rid-1\r\n"
        b"k-proxy-request: activator\r\n"
        b"k-original-host: hello.default.example.com\r\n"
        b"x-forwarded-for: 10.1.2.3\r\n"
        b"x-forwarded-proto: http\r\n"
        b"forwarded: for=10.1.2.3;proto=http\r\n\r\n"
    )
    assert pod.in_flight == 1 and throttler.in_flight == 1
    up.data_received(OK)
    assert client.take() == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Activator-Wait-Ms: 0\r\nX-Request-Id: rid-1\r\n\r\nhi"
    assert pod.in_flight == 0 and throttler.in_flight == 0
    stats = rig.policy.stats[KEY1]
    assert (stats.requests, stats.wait_counts[0], sum(stats.wait_counts), stats.wait_sum) == (1, 1, 1, 0.0)


def test_forwarded_for_is_appended_and_an_original_host_is_kept(rig):
    rig.revision("hello-00001")
    client = rig.client(peer=("192.168.7.9", 4000))
    raw = request(revision="hello-00001", headers=(("X-Forwarded-For", "1.1.1.1"), ("K-Original-Host", "first.example.com")))
    _, data, response = rig.roundtrip(client, raw)
    assert data == (
        b"GET / HTTP/1.1\r\n"
        b"Host: hello.default.example.com\r\n"
        b"K-Original-Host: first.example.com\r\n"
        b"X-Request-Id: rid-1\r\n"
        b"k-proxy-request: activator\r\n"
        b"x-forwarded-for: 1.1.1.1, 192.168.7.9\r\n"
        b"x-forwarded-proto: http\r\n"
        b"forwarded: for=1.1.1.1, for=192.168.7.9;proto=http\r\n\r\n"
    )
    assert response.status == 200


def test_http10_request_without_host_gets_the_activator_as_host(rig):
    rig.revision("hello-00001")
    client = rig.client()
    pod, data, response = rig.roundtrip(client, request(host=None, revision="hello-00001", version=b"HTTP/1.0"))
    head = data.split(b"\r\n")
    assert head[0] == b"GET / HTTP/1.1" and b"Host: activator" in head
    assert b"k-proxy-request: activator" in head and not any(line.lower().startswith(b"knative-serving") for line in head)
    assert response.status == 200 and response.headers[b"x-activator-wait-ms"] == b"0"


@pytest.mark.parametrize("namespace", [None, ""])
def test_revision_header_without_namespace_is_400(rig, namespace):
    rig.revision("hello-00001")
    client = rig.client()
    client.send(request(revision="hello-00001", namespace=namespace))
    response = client.response()
    assert (response.status, response.body) == (400, b"Knative-Serving-Revision needs Knative-Serving-Namespace (request id rid-1)")
    assert rig.forwarded() == [] and rig.policy.stats == {} and rig.reports == []


def test_unknown_revision_is_404(rig):
    rig.revision("hello-00001")
    client = rig.client()
    client.send(request(revision="nope-00001"))
    response = client.response()
    assert (response.status, response.body) == (404, b"revision not found: default/nope-00001 (request id rid-1)")
    client.send(request(revision="hello-00001", namespace="other"))
    assert client.response().body == b"revision not found: other/hello-00001 (request id rid-2)"
    assert rig.forwarded() == [] and rig.policy.stats == {} and rig.reporter.collectors == {}


# -- routing by host ---------------------------------------------------------------------------


def test_host_routing_splits_50_50_exactly_and_a_tag_host_pins_its_revision(rig):
    rig.revision("hello-00001")
    rig.revision("hello-00002")
    rig.state.routes = split_routes()
    client = rig.client()
    order = []
    for _ in range(100):
        pod, data, response = rig.roundtrip(client, request(host=HOST))
        assert response.status == 200 and b"\r\nk-original-host: " + HOST.encode() + b"\r\n" in data
        order.append(pod.name)
    assert Counter(order) == {"hello-00001-pod0": 50, "hello-00002-pod1": 50}
    assert all(order[i] != order[i + 1] for i in range(99))  # smooth: never twice in a row
    assert rig.policy.stats[KEY1].requests == rig.policy.stats[KEY2].requests == 50
    tagged = [rig.roundtrip(client, request(host="v1-" + HOST))[0].name for _ in range(10)]
    assert tagged == ["hello-00001-pod0"] * 10


def test_uneven_split_follows_the_weights_exactly(rig):
    rig.revision("hello-00001")
    rig.revision("hello-00002")
    rig.state.routes = split_routes((80, 20))
    client = rig.client()
    names = Counter(rig.roundtrip(client, request(host=HOST))[0].name for _ in range(50))
    assert names == {"hello-00001-pod0": 40, "hello-00002-pod1": 10}


def test_unknown_host_is_404(rig):
    rig.revision("hello-00001")
    rig.state.routes = split_routes()
    client = rig.client()
    client.send(request(host="Nope.Example.com:8080"))
    response = client.response()
    assert (response.status, response.body) == (404, b"no route for host nope.example.com (request id rid-1)")
    client.send(request(host=None, version=b"HTTP/1.0", headers=(("Connection", "keep-alive"),)))
    response = client.response()
    assert (response.status, response.body) == (404, b"no Host: cannot route the request (request id rid-2)")
    assert rig.forwarded() == [] and rig.policy.stats == {}


def test_routed_host_of_a_revision_not_in_the_state_is_404(rig):
    rig.revision("hello-00001")
    rig.state.routes = split_routes()  # hello-00002 has no throttler
    client = rig.client()
    assert rig.roundtrip(client, request(host=HOST))[2].status == 200
    client.send(request(host=HOST))
    response = client.response()
    assert (response.status, response.body) == (404, b"revision not found: default/hello-00002 (request id rid-2)")


@pytest.mark.parametrize("host", ["HELLO.Default.Example.COM", "hello.default.example.com:8080", "Hello.DEFAULT.example.com:80"])
def test_host_with_port_and_upper_case_is_normalised(rig, host):
    rig.revision("hello-00001")
    rig.state.routes = RouteTable({HOST: ([1], [KEY1])})
    client = rig.client()
    for _ in range(2):  # the second time through the hostname cache
        pod, data, response = rig.roundtrip(client, request(host=host))
        assert (pod.name, response.status) == ("hello-00001-pod0", 200)
        assert b"\r\nHost: " + host.encode() + b"\r\n" in data  # forwarded unchanged


def test_ipv6_literal_host_with_port(rig):
    rig.revision("hello-00001")
    rig.state.routes = RouteTable({"[fd00::1]": ([1], [KEY1])})
    client = rig.client()
    assert rig.roundtrip(client, request(host="[FD00::1]:8080"))[2].status == 200


# -- a new directory snapshot ------------------------------------------------------------------


def test_new_revision_timeout_applies_after_directory_changed(rig):
    rig.revision("hello-00001", timeout=300.0)
    client = rig.client()
    assert rig.roundtrip(client, request(revision="hello-00001"))[2].status == 200  # looked up and cached
    rig.state.revisions[KEY1] = RevisionInfo(NS, "hello-00001", timeout=2.0)
    rig.policy.directory_changed()
    client.send(request(revision="hello-00001"))
    assert len(rig.forwarded()) == 1
    rig.loop.advance(1.9)
    assert client.take() == b""
    rig.loop.advance(0.2)
    response = client.response()
    assert (response.status, response.body) == (504, b"activator request timeout (request id rid-2)")
    assert rig.policy.stats[KEY1].timeouts == 1


def test_new_route_traffic_applies_after_directory_changed(rig):
    rig.revision("hello-00001")
    rig.revision("hello-00002")
    rig.state.routes = RouteTable({HOST: ([1], [KEY1])})
    client = rig.client()
    assert rig.roundtrip(client, request(host=HOST.upper()))[0].name == "hello-00001-pod0"
    rig.state.routes = RouteTable({HOST: ([1], [KEY2])})
    rig.policy.directory_changed()
    assert [rig.roundtrip(client, request(host=HOST.upper()))[0].name for _ in range(3)] == ["hello-00002-pod1"] * 3


def test_removed_revision_is_404_after_directory_changed(rig):
    rig.revision("hello-00001")
    rig.state.routes = RouteTable({HOST: ([1], [KEY1])})
    client = rig.client()
    assert rig.roundtrip(client, request(revision="hello-00001"))[2].status == 200
    assert rig.roundtrip(client, request(host=HOST))[2].status == 200
    del rig.state.throttlers[KEY1], rig.state.revisions[KEY1]
    rig.policy.directory_changed()
    client.send(request(revision="hello-00001"))
    assert client.response().body == b"revision not found: default/hello-00001 (request id rid-3)"
    client.send(request(host=HOST))  # the route still names it
    assert client.response().body == b"revision not found: default/hello-00001 (request id rid-4)"
    assert rig.forwarded() == []


def test_recreated_revision_uses_its_new_throttler_after_directory_changed(rig):
    old = rig.revision("hello-00001")
    client = rig.client()
    assert rig.roundtrip(client, request(revision="hello-00001"))[0].name == "hello-00001-pod0"
    new = rig.revision("hello-00001")  # a new throttler with a new pod
    rig.policy.directory_changed()
    pod, _, response = rig.roundtrip(client, request(revision="hello-00001"))
    assert (pod.name, response.status) == ("hello-00001-pod1", 200)
    assert pod.address in new.pods and pod.address not in old.pods
    assert rig.policy.stats[KEY1].requests == 2  # the revision's counters carry on


# -- probes, answered by the activator itself ----------------------------------------------------


@pytest.mark.parametrize("probe", [("User-Agent", "kube-probe/1.30"), ("K-Kubelet-Probe", "1")])
def test_kubelet_probe_is_ok_until_draining(rig, probe):
    client = rig.client()
    client.send(request(host="10.0.0.9:8012", headers=(probe,)))
    response = client.response()
    assert (response.status, response.body) == (200, b"ok")
    rig.policy.draining = True
    client.send(request(host="10.0.0.9:8012", headers=(probe,)))
    response = client.response()
    assert (response.status, response.body) == (500, b"shutting down")


def test_activator_network_probe(rig):
    client = rig.client()
    # probe headers win over routing: the revision does not exist, and no 404
    client.send(request(revision="nope", headers=(("K-Network-Probe", "activator"),)))
    response = client.response()
    assert (response.status, response.body) == (200, b"activator")
    rig.policy.draining = True
    client.send(request(headers=(("K-Network-Probe", "activator"),)))
    response = client.response()
    assert (response.status, response.body) == (503, b"shutting down")


def test_network_probe_echoes_its_hash(rig):
    rig.revision("hello-00001")
    client = rig.client()
    client.send(request(revision="hello-00001", headers=(("K-Network-Probe", "probe"), ("K-Network-Hash", "c0ffee42"))))
    response = client.response()
    assert (response.status, response.body) == (200, b"c0ffee42")
    assert rig.forwarded() == [] and rig.policy.stats == {} and rig.reports == []


def test_network_probe_without_hash_is_400(rig):
    client = rig.client()
    client.send(request(headers=(("K-Network-Probe", "probe"),)))
    response = client.response()
    assert (response.status, response.body) == (400, b"a network probe needs a K-Network-Hash header")
    client.send(request(headers=(("K-Network-Probe", "bogus"),)))
    response = client.response()
    assert (response.status, response.body) == (400, b"unexpected probe header value: bogus")


def test_the_host_cache_stays_bounded_whatever_ports_clients_send(rig):
    rig.revision("hello-00001")
    rig.state.routes = RouteTable({HOST: ([1], [KEY1])})
    client = rig.client()
    for port in range(HOSTNAME_CACHE + 200):
        assert rig.roundtrip(client, request(host=f"{HOST}:{port}"))[2].status == 200
    assert len(rig.policy._hostnames) == HOSTNAME_CACHE
    rig.policy.directory_changed()
    assert rig.policy._hostnames == {}

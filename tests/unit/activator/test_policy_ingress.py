"""The activator as the ingress (the local router): what it trusts, and what it adds, from a client's request."""

from __future__ import annotations

import argparse

import pytest

from dataplane.cmd.activator import add_arguments, settings_from
from dataplane.directory import RouteTable
from tests.unit.activator.rig import NS, request

HOST = "hello.default.example.com"
KEY1 = (NS, "hello-00001")
RESERVE = (NS, "reserve-00001")  # a revision no Route sends traffic to (routingState: reserve)


def routed(rig):
    """hello-00001 behind the Route of HOST, and a reserve revision scaled to zero."""
    rig.revision("hello-00001")
    rig.revision("reserve-00001", pods=0)
    rig.state.routes = RouteTable({HOST: ([1], [KEY1])})


def test_router_ignores_a_clients_revision_headers_and_wakes_no_reserve_revision(router):
    routed(router)
    client = router.client()
    raw = request(host=HOST, revision="reserve-00001", headers=(("knative-serving-namespace", NS),), namespace=None)
    pod, data, response = router.roundtrip(client, raw)
    assert pod.name == "hello-00001-pod0" and response.status == 200
    assert b"knative-serving" not in data.lower()
    # nothing was counted for the reserve revision: no stat reaches the autoscaler, so nothing scales it up
    assert RESERVE not in router.reporter.collectors and RESERVE not in router.policy.stats
    assert not router.state.throttlers[RESERVE].queue
    assert router.policy.stats[KEY1].requests == 1


def test_router_does_not_route_by_revision_headers_without_a_host_route(router):
    routed(router)
    client = router.client()
    client.send(request(host="nowhere.example.com", revision="reserve-00001"))
    response = client.response()
    assert (response.status, response.body) == (404, b"no route for host nowhere.example.com (request id rid-1)")
    assert RESERVE not in router.reporter.collectors and router.forwarded() == []


def test_trusted_revision_headers_still_pick_the_revision(rig):
    routed(rig)
    rig.pod(rig.state.throttlers[RESERVE])
    client = rig.client()
    pod, data, response = rig.roundtrip(client, request(host=HOST, revision="reserve-00001"))
    assert pod.name.startswith("reserve-00001") and response.status == 200


def test_header_count_limit_is_a_flag():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert settings_from(parser.parse_args(["--directory", "http://x"])).max_headers == 100
    assert settings_from(parser.parse_args(["--max-headers", "300"])).max_headers == 300
    with pytest.raises(ValueError, match="--max-headers: must be >= 1"):
        settings_from(parser.parse_args(["--max-headers", "0"]))
    assert not settings_from(parser.parse_args([])).trust_revision_headers
    assert settings_from(parser.parse_args(["--trust-revision-headers"])).trust_revision_headers


# -- what the router passes on, and adds -----------------------------------------------------------

SPOOFED = (
    ("K-Proxy-Request", "activator"),
    ("K-Original-Host", "evil.example.com"),
    ("K-Network-Hash", "h"),
    ("K-Passthrough-Lb", "true"),
    ("Knative-Serving-Tag", "v1"),
    ("Knative-Serving-Default-Route", "true"),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", "for=1.2.3.4;proto=https"),
)


def test_router_drops_a_clients_internal_headers_and_adds_its_own_hop(router):
    routed(router)
    client = router.client()
    pod, data, response = router.roundtrip(client, request(host=HOST, headers=SPOOFED))
    assert data == (
        b"GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nX-Request-Id: rid-1\r\n"
        b"k-proxy-request: activator\r\nk-original-host: hello.default.example.com\r\n"
        b"x-forwarded-for: 10.1.2.3\r\nx-forwarded-proto: http\r\n"
        b"forwarded: for=1.2.3.4;proto=https, for=10.1.2.3;proto=http\r\n\r\n"
    )
    assert response.status == 200 and response.headers[b"x-request-id"] == b"rid-1"


def test_behind_the_gateway_its_internal_headers_and_scheme_are_kept(rig):
    routed(rig)
    client = rig.client()
    pod, data, response = rig.roundtrip(client, request(host=HOST, headers=SPOOFED))
    lines = data.split(b"\r\n")
    assert b"K-Original-Host: evil.example.com" in lines and b"Knative-Serving-Tag: v1" in lines
    assert b"Knative-Serving-Default-Route: true" in lines and b"x-forwarded-proto: https" in lines
    assert b"forwarded: for=1.2.3.4;proto=https, for=10.1.2.3;proto=http" in lines
    assert not any(line.lower().startswith((b"k-network-hash", b"k-passthrough-lb")) for line in lines)
    assert [line for line in lines if line.lower().startswith(b"k-proxy-request")] == [b"k-proxy-request: activator"]


def test_a_clients_request_id_is_kept_and_returned(router):
    routed(router)
    client = router.client()
    pod, data, response = router.roundtrip(client, request(host=HOST, headers=(("X-Request-Id", "mine-7"),)))
    assert data.count(b"X-Request-Id") == 1 and b"\r\nX-Request-Id: mine-7\r\n" in data
    assert response.headers[b"x-request-id"] == b"mine-7"


def test_the_request_id_is_in_the_headers_the_policy_sees_while_the_request_waits(router, engine):
    router.revision("hello-00001", pods=0)
    router.state.routes = RouteTable({HOST: ([1], [KEY1])})
    client = router.client()
    client.send(request(host=HOST))
    assert engine.collect(client.conn.head.headers, frozenset({b"x-request-id"})) == {b"x-request-id": b"rid-1"}
    assert client.conn.request_id == b"rid-1"


def test_errors_name_the_request_id_in_body_and_header(router):
    routed(router)
    client = router.client()
    client.send(request(host="nowhere.example.com"))
    response = client.response()
    assert (response.status, response.body) == (404, b"no route for host nowhere.example.com (request id rid-1)")
    assert response.headers[b"x-request-id"] == b"rid-1"


def test_a_refused_head_gets_an_id(router):
    client = router.client()
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: 1\r\n" * 100 + b"\r\n")
    response = client.response()
    assert (response.status, response.body) == (431, b"too many header fields (request id rid-1)")
    assert response.headers[b"x-request-id"] == b"rid-1"


def test_head_to_an_unknown_host_gets_the_404_head_alone_and_the_connection_goes_on(router):
    routed(router)
    client = router.client()
    client.send(request(host="nowhere.example.com").replace(b"GET ", b"HEAD ", 1))
    head = client.take()
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\n") and head.endswith(b"\r\n\r\n")
    body = b"no route for host nowhere.example.com (request id rid-1)"
    assert b"\r\nContent-Length: %d\r\n" % len(body) in head
    pod, data, response = router.roundtrip(client, request(host=HOST))
    assert response.status == 200 and response.headers[b"x-request-id"] == b"rid-2"

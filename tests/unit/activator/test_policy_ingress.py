"""The activator as the ingress (the local router): what it trusts, and what it adds, from a client's request."""

from __future__ import annotations

import argparse

import pytest

from dataplane.activator.main import add_arguments, settings_from
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
    assert (response.status, response.body) == (404, b"no route for host nowhere.example.com")
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

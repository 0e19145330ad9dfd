"""A revision no pod can serve: its waiting and new requests get 503 at once, naming it, its reason and the request id.

A cold start (pods starting, no failure in the directory) still waits; a host a
Route claims without a revision to send to is 503, an unclaimed one stays 404.
"""

from __future__ import annotations

from dataplane.directory import RevisionInfo, RouteTable, parse_snapshot
from tests.unit.activator.rig import NS, request

KEY = (NS, "crash-00001")
HOST = "crash.default.example.com"
BODY = b"revision default/crash-00001 cannot serve requests: ExitCode1"


def snapshot(failure: str | None, version: int = 2) -> dict:
    rev = {"namespace": NS, "name": "crash-00001", "containerConcurrency": 1, "pods": []}
    if failure:
        rev["failure"] = failure
    return {"version": version, "revisions": [rev], "routes": []}


def test_cold_start_waits_and_a_failure_answers_the_waiters_at_once(rig):
    throttler = rig.revision("crash-00001", cc=1, pods=0)
    rig.state.on_failed = rig.policy.revision_failed
    clients = [rig.client() for _ in range(2)]
    clients[0].send(request(revision="crash-00001", headers=(("X-Request-Id", "req-7f3a"),)))
    clients[1].send(request(revision="crash-00001"))
    rig.state.apply(parse_snapshot(snapshot(None)))  # still starting: nothing recorded against it
    rig.loop.advance(30.0)
    assert len(throttler.queue) == 2 and clients[0].take() == b""
    rig.state.apply(parse_snapshot(snapshot("ExitCode1", 3)))
    first, second = clients[0].response(), clients[1].response()
    assert (first.status, first.body) == (503, BODY + b" (request id req-7f3a)")
    assert first.headers[b"retry-after"] == b"10"
    made = second.headers[b"x-request-id"]  # the first hop made one for the request that had none
    assert (second.status, second.body) == (503, BODY + b" (request id " + made + b")")
    assert not throttler.queue and rig.reporter.collectors[KEY].concurrency == 0
    assert rig.policy.stats[KEY].shed == 2


def test_new_requests_to_a_failed_revision_are_refused_without_waiting(rig):
    rig.revision("crash-00001", cc=1, pods=0)
    rig.state.revisions[KEY] = RevisionInfo(NS, "crash-00001", container_concurrency=1, failure="ExitCode1")
    rig.policy.directory_changed()
    client = rig.client()
    client.send(request(revision="crash-00001", headers=(("X-Request-Id", "abc-123"),)))
    response = client.response()
    assert (response.status, response.body) == (503, BODY + b" (request id abc-123)")
    assert rig.forwarded() == [] and not rig.state.throttlers[KEY].queue


def test_a_ready_pod_serves_even_with_a_failure_recorded(rig):
    throttler = rig.revision("crash-00001", cc=1, pods=1)  # e.g. one pod crash-looping, another one ready
    rig.state.revisions[KEY] = RevisionInfo(NS, "crash-00001", container_concurrency=1, failure="ExitCode1")
    rig.policy.directory_changed()
    pod, _, response = rig.roundtrip(rig.client(), request(revision="crash-00001"))
    assert response.status == 200 and pod is throttler.ready[0]


def test_a_request_id_that_is_not_plain_is_replaced_by_a_fresh_one(rig):
    rig.revision("crash-00001", cc=1, pods=0)
    rig.state.revisions[KEY] = RevisionInfo(NS, "crash-00001", container_concurrency=1, failure="ExitCode1")
    rig.policy.directory_changed()
    for evil in ("<script>alert(1)</script>", "a" * 129, "id with spaces"):
        client = rig.client()
        client.send(request(revision="crash-00001", headers=(("X-Request-Id", evil),)))
        response = client.response()
        fresh = response.headers[b"x-request-id"]
        assert fresh != evil.encode() and len(fresh) < 40
        assert (response.status, response.body) == (503, BODY + b" (request id " + fresh + b")")


def test_host_claimed_by_a_route_without_a_ready_revision_is_503_naming_it(rig):
    rig.revision("crash-00001", cc=1, pods=0)
    rig.state.routes = RouteTable({}, {HOST: (KEY, "ExitCode1")})
    client = rig.client()
    client.send(request(host="Crash.default.example.com:8080", headers=(("X-Request-Id", "r1"),)))
    response = client.response()
    assert (response.status, response.body) == (503, BODY + b" (request id r1)")
    assert response.headers[b"retry-after"] == b"10"
    client.send(request(host="nope.example.com"))
    response = client.response()
    assert (response.status, response.body) == (404, b"no route for host nope.example.com (request id rid-1)")


def test_route_failure_without_a_revision_names_the_host(rig):
    rig.state.routes = RouteTable({}, {HOST: ((NS, ""), "ConfigurationMissing")})
    client = rig.client()
    client.send(request(host=HOST))
    response = client.response()
    assert (response.status, response.body) == (
        503, b"no revision is ready for host crash.default.example.com: ConfigurationMissing (request id rid-1)")

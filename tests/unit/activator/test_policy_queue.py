"""ActivatorPolicy: waiting for capacity, shedding, timeouts, retries, clients that leave, stats."""

from __future__ import annotations

from dataplane.activator.policy import WAIT_BUCKETS
from dataplane.activator.throttler import QueueLimits
from dataplane.stats.wire import Stat, WireStatMessage
from tests.unit.activator.rig import NS, OK, request

KEY = (NS, "hello-00001")
REQ = request(revision="hello-00001")
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\ngone"


def bucket(seconds: float) -> int:
    """Index in wait_counts of the bucket that counts ``seconds``."""
    return next((i for i, bound in enumerate(WAIT_BUCKETS) if seconds <= bound), len(WAIT_BUCKETS))


def test_request_queued_until_a_pod_is_ready_reports_its_wait(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    client = rig.client()
    client.send(REQ)
    assert rig.forwarded() == [] and len(throttler.queue) == 1
    rig.loop.advance(0.25)
    pod = rig.pod(throttler)  # passes its probe: takes the waiter at once
    [(got, up, data)] = rig.forwarded()
    assert got is pod and data.startswith(b"GET / HTTP/1.1\r\n") and b"\r\nk-proxy-request: activator\r\n" in data
    assert not throttler.queue and pod.in_flight == 1
    up.data_received(OK)
    assert client.take() == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Activator-Wait-Ms: 250\r\nX-Request-Id: rid-1\r\n\r\nhi"
    stats = rig.policy.stats[KEY]
    assert stats.wait_counts[bucket(0.25)] == 1 and sum(stats.wait_counts) == 1
    assert stats.wait_sum == 0.25


def test_request_queued_behind_a_busy_pod_goes_when_it_is_released(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=1)
    first, second = rig.client(), rig.client()
    first.send(REQ)
    [(_, up, _)] = rig.forwarded()
    second.send(REQ)
    assert rig.forwarded() == [] and len(throttler.queue) == 1
    rig.loop.advance(1.5)
    up.data_received(OK)
    assert first.response().headers[b"x-activator-wait-ms"] == b"0"
    [(_, up2, _)] = rig.forwarded()  # the pooled connection again
    assert up2 is up
    up.data_received(OK)
    assert second.response().headers[b"x-activator-wait-ms"] == b"1500"
    stats = rig.policy.stats[KEY]
    assert (stats.wait_counts[0], stats.wait_counts[bucket(1.5)], sum(stats.wait_counts)) == (1, 1, 2)
    assert stats.wait_sum == 1.5


def test_queued_requests_are_served_in_arrival_order(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    clients = [rig.client() for _ in range(4)]
    for i, client in enumerate(clients):
        client.send(request(f"/{i}", revision="hello-00001"))
        rig.loop.advance(0.1)
    rig.pod(throttler)
    for i, client in enumerate(clients):
        [(_, up, data)] = rig.forwarded()
        assert data.startswith(b"GET /%d " % i)
        up.data_received(OK)
        assert client.response().status == 200
    assert not throttler.queue and throttler.in_flight == 0


def test_full_queue_sheds_with_503_and_retry_after(rig):
    rig.state.limits = QueueLimits(max_requests=1)
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    waiting, shed = rig.client(), rig.client()
    waiting.send(REQ)
    shed.send(REQ)
    response = shed.response()
    assert (response.status, response.body, response.headers[b"retry-after"]) == (503, b"revision queue is full (request id rid-2)", b"1")
    stats = rig.policy.stats[KEY]
    # answered: the shed one (503); the waiting one is counted when it is answered
    assert (stats.shed, stats.requests, stats.by_code[503]) == (1, 1, 1)
    assert len(throttler.queue) == 1 and rig.reporter.collectors[KEY].concurrency == 1
    rig.pod(throttler)
    [(_, up, _)] = rig.forwarded()
    up.data_received(OK)
    assert waiting.response().status == 200  # the one that waited is served


def test_bodies_beyond_the_queue_byte_bound_are_shed(rig):
    rig.state.limits = QueueLimits(max_bytes=1000)
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    a, b = rig.client(), rig.client()
    a.send(request(revision="hello-00001", body=b"x" * 600))
    b.send(request(revision="hello-00001", body=b"y" * 401))
    assert b.response().status == 503
    assert throttler.queued_bytes == 600 and rig.policy.stats[KEY].shed == 1
    b.send(request(revision="hello-00001", body=b"y" * 400))
    assert b.take() == b"" and throttler.queued_bytes == 1000


def test_waiting_longer_than_max_wait_is_503(rig):
    rig.state.limits = QueueLimits(max_wait=10.0)
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    early, late = rig.client(), rig.client()
    early.send(REQ)
    rig.loop.advance(5.0)
    late.send(REQ)
    rig.loop.advance(4.9)
    assert early.take() == b""
    rig.loop.advance(0.1)
    response = early.response()
    assert (response.status, response.body, response.headers[b"retry-after"]) == (503, b"waited too long for capacity (request id rid-1)", b"1")
    assert late.take() == b"" and len(throttler.queue) == 1
    rig.loop.advance(5.0)
    assert late.response().status == 503
    assert rig.policy.stats[KEY].shed == 2 and not throttler.queue and rig.policy.expiry == {}


def test_timeout_while_queued_is_504_and_leaves_the_queue(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=0, timeout=5.0)
    client = rig.client()
    client.send(request(revision="hello-00001", body=b"abc"))
    assert throttler.queued_bytes == 3
    rig.loop.advance(5.1)
    response = client.response()
    assert (response.status, response.body) == (504, b"activator request timeout (request id rid-1)")
    assert rig.policy.stats[KEY].timeouts == 1
    assert not throttler.queue and throttler.queued_bytes == 0
    assert rig.reporter.collectors[KEY].concurrency == 0
    rig.pod(throttler)
    assert rig.forwarded() == []


def test_timeout_while_at_a_pod_is_504_and_frees_its_slot(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=1, timeout=5.0)
    client, other = rig.client(), rig.client()
    client.send(REQ)
    [(pod, up, _)] = rig.forwarded()
    rig.loop.advance(2.0)
    other.send(REQ)
    rig.loop.advance(3.1)
    assert client.response().status == 504
    assert up.transport.aborted and rig.policy.stats[KEY].timeouts == 1
    [(got, _, _)] = rig.forwarded()  # the freed slot went to the waiter
    assert got is pod and pod.in_flight == 1 and not throttler.queue


def test_refused_connect_is_retried_on_another_pod(rig):
    throttler = rig.revision("hello-00001", cc=0, pods=2)
    bad, good = rig.pods
    bad.pool.refuse = True
    client = rig.client()
    for _ in range(20):
        pod, _, response = rig.roundtrip(client, REQ)
        assert (pod, response.status) == (good, 200)
    assert rig.reprobed == [(KEY, bad.name)]  # tried once, then left to its probe
    assert not bad.ready and throttler.ready == [good]
    assert bad.in_flight == 0 and good.in_flight == 0 and throttler.in_flight == 0
    assert rig.policy.stats[KEY].errors == 0


def test_request_waits_for_a_probe_when_every_pod_refuses(rig):
    throttler = rig.revision("hello-00001", cc=0, pods=2)
    for pod in rig.pods:
        pod.pool.refuse = True
    client = rig.client()
    client.send(REQ)
    assert client.take() == b"" and throttler.ready == [] and len(throttler.queue) == 1
    assert sorted(rig.reprobed) == sorted((KEY, pod.name) for pod in rig.pods)
    rig.loop.advance(0.5)
    pod = rig.pods[1]
    pod.pool.refuse = False
    throttler.mark_ready(pod)  # its probe passed
    [(got, up, _)] = rig.forwarded()
    up.data_received(OK)
    assert got is pod and client.response().headers[b"x-activator-wait-ms"] == b"500"


def test_refused_connects_give_up_with_502_after_the_retries(rig):
    throttler = rig.revision("hello-00001", cc=0, pods=4)
    for pod in rig.pods:
        pod.pool.refuse = True
    client = rig.client()
    client.send(REQ)
    response = client.response()
    assert response.status == 502 and response.body.startswith(b"dial 127.0.0.1:9999")
    assert len(rig.reprobed) == 3 and len(throttler.ready) == 1  # three retries; the last pod stays
    assert rig.policy.stats[KEY].errors == 1
    assert throttler.in_flight == 0 and all(pod.in_flight == 0 for pod in rig.pods)


def test_502_from_a_pod_takes_it_out_until_it_is_probed_again(rig):
    throttler = rig.revision("hello-00001", cc=0, pods=2)
    client = rig.client()
    pod, _, response = rig.roundtrip(client, REQ, answer=BAD_GATEWAY)
    assert (response.status, response.body) == (502, b"gone")  # the pod's own answer
    assert not pod.ready and rig.reprobed == [(KEY, pod.name)]
    (other,) = throttler.ready
    assert [rig.roundtrip(client, REQ)[0] for _ in range(5)] == [other] * 5


def test_client_leaving_while_queued_leaves_the_queue(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    leaving, staying = rig.client(), rig.client()
    leaving.send(request(revision="hello-00001", body=b"x" * 100))
    staying.send(REQ)
    assert len(throttler.queue) == 2 and throttler.queued_bytes == 100
    assert rig.reporter.collectors[KEY].concurrency == 2
    leaving.close()
    assert len(throttler.queue) == 1 and throttler.queued_bytes == 0
    assert rig.reporter.collectors[KEY].concurrency == 1
    rig.pod(throttler)
    [(_, up, data)] = rig.forwarded()  # only the one still there
    assert not data.endswith(b"x" * 100)
    up.data_received(OK)
    assert staying.response().status == 200
    assert not throttler.queue and rig.reporter.collectors[KEY].concurrency == 0


def test_client_leaving_while_at_a_pod_frees_its_slot(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=1)
    client = rig.client()
    client.send(REQ)
    [(pod, up, _)] = rig.forwarded()
    client.close()
    assert up.transport.aborted
    assert pod.in_flight == 0 and throttler.in_flight == 0
    assert rig.reporter.collectors[KEY].concurrency == 0


def test_removed_revision_answers_its_waiters_503(rig):
    throttler = rig.revision("hello-00001", cc=1, pods=0)
    clients = [rig.client() for _ in range(2)]
    for client in clients:
        client.send(REQ)
    rig.policy.revision_removed(throttler)
    for n, client in enumerate(clients, 1):
        response = client.response()
        assert (response.status, response.body) == (503, b"revision was removed while the request waited (request id rid-%d)" % n)
        assert response.headers[b"retry-after"] == b"1"
    assert not throttler.queue and rig.reporter.collectors[KEY].concurrency == 0


def test_reporter_counts_requests_in_and_out_per_revision(rig):
    rig.revision("hello-00001")
    rig.revision("hello-00002")
    client, held = rig.client(), rig.client()
    for _ in range(3):
        rig.roundtrip(client, REQ)
    rig.roundtrip(client, request(revision="hello-00002"))
    held.send(request(revision="hello-00002"))  # still at its pod
    client.send(request(revision="hello-00003"))  # 404: not counted
    assert client.response().status == 404
    first = {(m.namespace, m.name): m.stat for [m] in rig.reports}  # sent at once for a revision's first request
    fast = Stat(pod_name="activator-test", average_concurrent_requests=1.0, request_count=1.0)
    assert first == {KEY: fast, (NS, "hello-00002"): fast}
    collectors = rig.reporter.collectors
    assert set(collectors) == {KEY, (NS, "hello-00002")}
    assert (collectors[KEY].concurrency, collectors[(NS, "hello-00002")].concurrency) == (0, 1)
    rig.loop.advance(1.0)
    messages = rig.reporter.report()
    assert messages == [
        WireStatMessage(NS, "hello-00001", Stat(pod_name="activator-test", average_concurrent_requests=0.0, request_count=2.0)),
        WireStatMessage(NS, "hello-00002", Stat(pod_name="activator-test", average_concurrent_requests=1.0, request_count=1.0)),
    ]
    assert set(collectors) == {(NS, "hello-00002")}  # the idle revision is forgotten


def test_a_retried_request_is_counted_once_in_the_wait_histogram(rig):
    rig.revision("hello-00001", cc=0, pods=2)
    rig.pods[0].pool.refuse = True
    client = rig.client()
    for _ in range(5):
        assert rig.roundtrip(client, REQ)[2].status == 200
    stats = rig.policy.stats[KEY]
    assert sum(stats.wait_counts) == 5 and stats.wait_counts[0] == 5


def _retried_into_the_queue(rig):
    """cc=1, two pods: a busy client holds the working pod; the next request is refused by the
    other pod, retried, and waits. Returns (throttler, working pod, busy client, waiting client)."""
    throttler = rig.revision("hello-00001", cc=1, pods=2)
    refusing, working = rig.pods
    refusing.pool.refuse = True
    throttler.assigned.remove(refusing)  # the first request surely lands on the working pod
    busy = rig.client()
    busy.send(REQ)
    throttler.assigned.insert(0, refusing)
    client = rig.client()
    client.send(REQ)
    assert len(throttler.queue) == 1 and client.take() == b""
    return throttler, working, busy, client


def test_a_retried_request_counts_its_whole_wait(rig):
    _, working, busy, client = _retried_into_the_queue(rig)
    rig.loop.advance(2.0)
    [(_, first_up, _)] = rig.forwarded()
    first_up.data_received(OK)
    assert busy.response().status == 200
    [(got, up, _)] = rig.forwarded()
    up.data_received(OK)
    assert got is working and client.response().headers[b"x-activator-wait-ms"] == b"2000"
    stats = rig.policy.stats[KEY]
    assert sum(stats.wait_counts) == 2 and stats.wait_counts[0] == 1 and stats.wait_counts[bucket(2.0)] == 1
    assert abs(stats.wait_sum - 2.0) < 1e-9


def test_a_retried_request_that_has_to_wait_is_bounded_by_max_wait(rig):
    rig.state.limits = QueueLimits(max_wait=10.0)
    _, _, _, client = _retried_into_the_queue(rig)
    rig.loop.advance(10.1)
    response = client.response()
    assert (response.status, response.body) == (503, b"waited too long for capacity (request id rid-2)")

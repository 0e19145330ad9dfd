"""The fast app's protocol, fed bytes directly (no sockets)."""

from __future__ import annotations

import pytest

from loadtests.apps.fastapp import (
    BAD_REQUEST,
    HEADERS_TOO_LARGE,
    MAX_HEAD,
    NOT_IMPLEMENTED,
    PROBE_RESPONSE,
    PROBE_RESPONSE_CLOSE,
    RESPONSE,
    RESPONSE_CLOSE,
    FastAppProtocol,
    parse_head,
)

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class FakeHandle:
    def __init__(self, callback) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Records call_later; the test decides when (and in which order) timers fire."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, FakeHandle]] = []

    def call_later(self, delay: float, callback) -> FakeHandle:
        handle = FakeHandle(callback)
        self.timers.append((delay, handle))
        return handle

    def fire(self, order: list[int] | None = None) -> None:
        timers, self.timers = self.timers, []
        for i in order if order is not None else range(len(timers)):
            if not timers[i][1].cancelled:
                timers[i][1].callback()


def connect(sleep_s: float = 0.0) -> tuple[FastAppProtocol, FakeTransport, FakeLoop]:
    loop = FakeLoop()
    proto = FastAppProtocol(sleep_s, loop=loop)
    transport = FakeTransport()
    proto.connection_made(transport)
    return proto, transport, loop


def test_keep_alive_request_gets_fixed_answer():
    proto, t, _ = connect()
    proto.data_received(GET)
    assert t.writes == [RESPONSE]
    assert not t.closed
    assert RESPONSE.startswith(b"HTTP/1.1 200 OK\r\n")
    assert RESPONSE.endswith(b"\r\n\r\nok\n")


def test_queue_proxy_health_probe_is_answered_as_a_queue_proxy_would():
    proto, t, _ = connect()
    proto.data_received(b"GET /healthz HTTP/1.1\r\nHost: x\r\nK-Network-Probe: queue\r\n\r\n" + GET)
    proto.data_received(b"GET / HTTP/1.1\r\nK-Network-Probe: queue\r\nConnection: close\r\n\r\n")
    assert t.writes == [PROBE_RESPONSE, RESPONSE, PROBE_RESPONSE_CLOSE] and t.closed
    assert PROBE_RESPONSE.endswith(b"\r\n\r\nqueue")
    proto2, t2, _ = connect()
    proto2.data_received(b"GET / HTTP/1.1\r\nK-Network-Probe: probe\r\n\r\n")  # only the queue probe
    assert t2.writes == [RESPONSE]


def test_pipelined_requests_split_anywhere_answer_once_each():
    proto, t, _ = connect()
    stream = GET * 3 + b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + GET
    for i in range(0, len(stream), 7):
        proto.data_received(stream[i : i + 7])
    assert t.writes == [RESPONSE] * 5


def test_body_is_skipped_not_parsed_as_a_request():
    proto, t, _ = connect()
    body = b"GET / HTTP/1.1\r\n\r\n"  # looks like a request, but is a body
    proto.data_received(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body + GET)
    assert t.writes == [RESPONSE, RESPONSE]


def test_connection_close_answers_then_closes_and_ignores_the_rest():
    proto, t, _ = connect()
    proto.data_received(GET + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n" + GET)
    assert t.writes == [RESPONSE, RESPONSE_CLOSE]
    assert t.closed


def test_http10_closes_unless_keep_alive():
    proto, t, _ = connect()
    proto.data_received(b"GET / HTTP/1.0\r\n\r\n")
    assert t.writes == [RESPONSE_CLOSE] and t.closed
    proto, t, _ = connect()
    proto.data_received(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert t.writes == [RESPONSE] and not t.closed


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (b"NONSENSE\r\n\r\n", BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", NOT_IMPLEMENTED),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 1), HEADERS_TOO_LARGE),
    ],
)
def test_bad_requests_get_an_error_and_a_close(data, answer):
    proto, t, _ = connect()
    proto.data_received(data)
    assert t.writes == [answer]
    assert t.closed


def test_delayed_answers_wait_for_their_timer():
    proto, t, loop = connect(sleep_s=0.005)
    proto.data_received(GET * 2)
    assert t.writes == []
    assert [d for d, _ in loop.timers] == [0.005, 0.005]
    loop.fire()
    assert t.writes == [RESPONSE, RESPONSE]


def test_delayed_pipelined_answers_stay_in_order_even_if_timers_swap():
    proto, t, loop = connect(sleep_s=0.005)
    proto.data_received(GET + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    loop.fire(order=[1, 0])
    assert t.writes == [RESPONSE, RESPONSE_CLOSE]
    assert t.closed


def test_error_after_delayed_requests_comes_last():
    proto, t, loop = connect(sleep_s=0.005)
    proto.data_received(GET + b"BROKEN\r\n\r\n")
    loop.fire()
    assert t.writes == [RESPONSE, BAD_REQUEST]
    assert t.closed


def test_connection_lost_cancels_pending_timers():
    proto, t, loop = connect(sleep_s=0.005)
    proto.data_received(GET * 2)
    timers = [h for _, h in loop.timers]
    proto.connection_lost(None)
    assert all(h.cancelled for h in timers)
    loop.fire()
    assert t.writes == []


def test_backpressure_pauses_reading():
    proto, t, _ = connect()
    proto.pause_writing()
    assert not t.reading
    proto.resume_writing()
    assert t.reading


def test_parse_head_reads_framing_headers():
    head = parse_head(b"POST /x HTTP/1.1\r\nCONTENT-LENGTH: 12\r\nConnection: Close")
    assert head is not None
    assert (head.content_length, head.close, head.chunked) == (12, True, False)

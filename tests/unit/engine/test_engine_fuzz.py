"""Seeded fuzzing of the whole engine: mutated request streams, cut into random reads, go into a
ClientConnection whose requests a fake app answers. Nothing may escape a callback; every stream
ends with its requests forwarded or with an error response and a close; both builds send the
same bytes both ways and make the same policy calls."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import pytest

from dataplane.http import _parser_py as strict
from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeLoop, FakeTransport, ForwardAll, fake_pool_type

BASE = "dataplane.http._engine"
BUILDS = [p.values[0] for p in twin_params(BASE)]
CASES = 3000
BUDGET = 30.0  # seconds, a guard against a slow machine; the cases normally finish far sooner
MAX_HEAD = 1024  # small, so that oversize heads are cheap to make
ENGINE_MADE = b"\r\nContent-Type: text/plain; charset=utf-8\r\n"  # only the engine's own answers say this
REFUSALS = {400, 408, 431, 501, 505}  # bad input
FAILURES = {502, 504}  # a forwarded request the app failed, or nobody finished in time
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade", b"proxy-authenticate", b"proxy-authorization"}

INTERESTING = b"\x00\t\n\r :;,\x7f\x80\xffaZ0-/"
EXTRA_FIELDS = [
    b"User-Agent: fuzz/1", b"Accept: */*", b"Connection: keep-alive", b"Connection: close",
    b"Connection: x-secret", b"X-Secret: 1", b"Keep-Alive: timeout=5", b"TE: trailers",
    b"X-Forwarded-For: 10.0.0.1", b"Proxy-Authorization: Basic eA==", b"Cookie: a=b; c=d",
    b"Connection: Upgrade", b"Upgrade: websocket", b"X-Empty:", b"x-lower:  v ",
]  # fmt: skip
FRAMING_FIELDS = [
    b"Content-Length: 3", b"Content-Length: 3\r\nContent-Length: 4", b"Content-Length: 3, 3",
    b"Content-Length: -1", b"Content-Length: +3", b"Content-Length: 99999999999999999999",
    b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked", b"Transfer-Encoding: chunked, gzip",
    b"Transfer-Encoding: identity", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    b"Transfer-Encoding:", b" Transfer-Encoding: chunked", b"Transfer-Encoding : chunked",
    b"Content-Length: 3\r\nTransfer-Encoding: chunked",
]  # fmt: skip
VERSIONS = [b"HTTP/1.2", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.10", b"http/1.1"]


# -- request streams -------------------------------------------------------------------------------


def payload(rng: random.Random, low: int, high: int) -> bytes:
    return bytes(rng.choice(b"abcxyz019") for _ in range(rng.randint(low, high)))


def chunked_body(rng: random.Random) -> bytes:
    out = b""
    for _ in range(rng.randint(0, 3)):
        data = payload(rng, 1, 20)
        out += b"%x%s\r\n%s\r\n" % (len(data), b";e=1" if rng.random() < 0.2 else b"", data)
    return out + b"0\r\n" + (b"Trailer-X: 1\r\n" if rng.random() < 0.2 else b"") + b"\r\n"


def request(rng: random.Random) -> bytes:
    version = b"HTTP/1.0" if rng.random() < 0.15 else b"HTTP/1.1"
    method = rng.choice([b"GET", b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS"])
    lines = [method + b" " + rng.choice([b"/", b"/a?b=1", b"/x/y.z", b"*", b"http://h/p"]) + b" " + version]
    if version == b"HTTP/1.1" or rng.random() < 0.5:
        lines.append(b"Host: " + rng.choice([b"h", b"example.com", b"h:8080"]))
    lines += rng.sample(EXTRA_FIELDS, rng.randint(0, 4))
    body = b""
    if method in (b"POST", b"PUT") or rng.random() < 0.1:
        if version == b"HTTP/1.1" and rng.random() < 0.4:
            lines.append(b"Transfer-Encoding: chunked")
            body = chunked_body(rng)
        else:
            body = payload(rng, 0, 400 if rng.random() < 0.2 else 40)
            lines.append(b"Content-Length: %d" % len(body))
            if rng.random() < 0.2:
                lines.append(b"Expect: 100-continue")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def line_start(data: bytearray, pos: int) -> int:
    """Index just after the CRLF at or after ``pos`` (a field line starts there), or -1."""
    eol = data.find(b"\r\n", pos)
    return -1 if eol < 0 else eol + 2


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        pos = rng.randrange(len(out))
        op = rng.randrange(8)
        if op == 0:  # byte flip
            out[pos] = rng.choice(INTERESTING)
        elif op == 1:  # byte inserted
            out.insert(pos, rng.choice(INTERESTING))
        elif op == 2:  # bytes dropped
            del out[pos : pos + rng.randint(1, 4)]
        elif op == 3:  # truncated
            del out[pos:]
        elif op == 4:  # a header line twice
            start = line_start(out, pos)
            end = out.find(b"\r\n", start) if start >= 0 else -1
            if start >= 0 and end > start:
                out[end + 2 : end + 2] = out[start : end + 2]
        elif op == 5:  # Content-Length / Transfer-Encoding combinations
            start = line_start(out, pos)
            if start >= 0:
                out[start:start] = rng.choice(FRAMING_FIELDS) + b"\r\n"
        elif op == 6:  # a head around the size limit
            start = line_start(out, 0)
            if start >= 0:
                out[start:start] = b"X-Big: " + b"b" * rng.randint(MAX_HEAD // 2, MAX_HEAD * 2) + b"\r\n"
        else:  # an unsupported version, or a bare LF
            version = out.find(b"HTTP/1.", pos)
            if version >= 0 and rng.random() < 0.5:
                out[version : version + 8] = rng.choice(VERSIONS)
            else:
                eol = out.find(b"\r\n", pos)
                if eol >= 0:
                    del out[eol]
    return bytes(out)


@dataclass
class Case:
    reads: list[bytes]
    app_seed: int
    hangup: bool  # the client leaves after its last read


def make_case(seed: int) -> Case:
    rng = random.Random(seed)
    stream = b"".join(request(rng) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.1:
        stream = b"\r\n" + stream  # empty lines before a request line are allowed
    if rng.random() < 0.7:
        stream = mutate(rng, stream)
    if len(stream) < 300 and rng.random() < 0.05:
        cuts = list(range(1, len(stream)))  # one byte per read
    else:
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 4)))) if stream else []
    bounds = [0, *cuts, len(stream)]
    return Case([stream[a:b] for a, b in zip(bounds, bounds[1:]) if b > a], rng.randrange(1 << 30), rng.random() < 0.1)


# -- the fake app ------------------------------------------------------------------------------------


class App:
    """Answers each complete request that reaches it, choosing its response from the case's rng."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        # a slow app answers only once the client has sent all it can: pipelined requests pile up
        self.slow = self.rng.random() < 0.3
        self.offsets: dict[int, int] = {}  # id(upstream connection) -> bytes of it already answered
        self.heads: list = []  # every request head received, parsed strictly
        self.answered = 0
        self.stalled = 0  # responses started and never finished

    def pump(self, pool, eager: bool) -> bool:
        if self.slow and not eager:
            return False
        progress = False
        for conn in list(pool.opened):
            if conn.transport.closed or conn.client is None:
                continue
            head = self.complete_request(conn)
            if head is not None:
                self.answer(conn, head)
                progress = True
        return progress

    def complete_request(self, conn):
        offset = self.offsets.get(id(conn), 0)
        data = bytes(conn.transport.written[offset:])
        # what the engine forwards must satisfy the strict parser: anything else is smuggling material
        head = strict.parse_request_head(data, 1 << 20)
        if head is None:
            return None
        end = head.head_len
        if head.chunked:
            scanner = strict.ChunkedScanner()
            end = scanner.feed(data, head.head_len)
            complete = scanner.done
        else:
            end += max(head.content_length, 0)
            complete = len(data) >= end
        if not complete:
            if self.rng.random() >= 0.05:
                return None
            # answered before the body is in (as a 413 would be): the engine must not reuse this connection
            end = 1 << 40
        self.offsets[id(conn)] = offset + end
        self.heads.append(head)
        return head

    def answer(self, conn, head) -> None:
        rng = self.rng
        if rng.random() < 0.08:
            self.fail(conn)
            return
        if rng.random() < 0.04:
            self.stalled += 1  # the head and part of the body, then nothing: a timeout must cut it
            conn.data_received(b"HTTP/1.1 200 OK\r\nX-App: stalled\r\nContent-Length: 100\r\n\r\npart")
            return
        self.answered += 1
        body = b"body-%d" % self.answered
        tag = b"X-App: %d\r\nContent-Type: application/x-app\r\n" % self.answered
        kind = rng.randrange(9)
        close = False
        if kind == 1:
            wire = b"HTTP/1.1 200 OK\r\n" + tag + b"Transfer-Encoding: chunked\r\n\r\n"
            if head.method != b"HEAD":
                trailer = rng.choice([b"", b"T: 1\r\n"])
                wire += b"3;x=y\r\n%s\r\n%x\r\n%s\r\n0\r\n%s\r\n" % (body[:3], len(body) - 3, body[3:], trailer)
        elif kind in (2, 3):
            wire = b"HTTP/1.1 %s\r\n%s\r\n" % (b"204 No Content" if kind == 2 else b"304 Not Modified", tag)
        elif kind == 6:
            close = True  # no length: the body runs to the close
            wire = b"HTTP/1.1 200 OK\r\n" + tag + b"\r\n" + (b"" if head.method == b"HEAD" else body)
        else:
            status, fields = {
                4: (b"200 OK", b""),
                5: (b"200 OK", b"Connection: close\r\n"),
                7: (b"404 Not Found", b"Connection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"),
                8: (b"200 OK", b""),
            }.get(kind, (b"200 OK", b""))
            version = b"HTTP/1.0" if kind == 8 else b"HTTP/1.1"
            wire = b"%s %s\r\n%s%sContent-Length: %d\r\n\r\n" % (version, status, tag, fields, len(body))
            if head.method != b"HEAD":
                wire += body
            if kind == 4:
                wire = b"HTTP/1.1 100 Continue\r\n\r\n" + wire
            close = kind in (5, 8)
        cuts = sorted(rng.sample(range(1, len(wire)), rng.randint(0, 2)))
        bounds = [0, *cuts, len(wire)]
        pieces = [wire[a:b] for a, b in zip(bounds, bounds[1:])]
        if not close and rng.random() < 0.05:
            pieces[-1] += b"junk"  # bytes read beyond the response: that connection must not be reused
        for piece in pieces:
            if conn.transport.closed:
                break
            conn.data_received(piece)
        if close and not conn.transport.lost:
            conn.eof_received()
            conn.transport.lose()

    def fail(self, conn) -> None:
        """Close without a byte of answer (a pooled connection gets one retry), or answer garbage."""
        if self.rng.random() < 0.5:
            conn.transport.lose()
        else:
            garbage = [b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTCPCP/1.0 418\r\n\r\n", b"HTTP/1.1 200 OK\nX: y\r\n\r\n"]
            conn.data_received(self.rng.choice(garbage))


# -- the policy -------------------------------------------------------------------------------------


class Policy(ForwardAll):
    """Forwards, but holds some requests for a while (as a breaker queue does) and varies timeouts."""

    def __init__(self, engine, pool, seed: int):
        super().__init__(engine, pool)
        self.rng = random.Random(seed)
        self.held: list = []

    def on_request(self, conn, head):
        self.events.append(("request", head.method, head.target))
        conn.set_timeouts(30.0, self.rng.choice([0.0, 5.0]), self.rng.choice([0.0, 8.0]))
        upstream_head = self.engine.request_head(head, {}, head.upgrade, b"app")
        if self.rng.random() < 0.3:
            self.held.append((conn, upstream_head))  # body bytes pile up meanwhile
        else:
            conn.forward(self.pool, upstream_head)

    def on_timeout(self, conn):
        self.events.append(("timeout at", conn.loop.time()))  # when, not only whether
        super().on_timeout(conn)

    def release(self) -> bool:
        held, self.held = self.held, []
        for conn, upstream_head in held:
            conn.forward(self.pool, upstream_head)  # the request may have ended meanwhile
        return bool(held)


# -- one case on one build ---------------------------------------------------------------------------


@dataclass
class Outcome:
    downstream: bytes
    upstream: list[bytes]
    writes: list[int]  # downstream, then each upstream: both builds coalesce alike
    events: list[tuple]
    errors: list[str]
    closed: bool
    aborted: bool
    pauses: int
    reading: bool
    app_heads: list
    answered: int
    stalled: int

    def comparable(self) -> tuple:
        return (
            self.downstream, self.upstream, self.writes, self.events, self.errors,
            self.closed, self.aborted, self.pauses, self.reading, self.answered, self.stalled,
        )  # fmt: skip


def run(engine, case: Case) -> Outcome:
    loop = FakeLoop()
    pool = fake_pool_type(engine)(loop)
    policy = Policy(engine, pool, case.app_seed)
    config = engine.EngineConfig(max_head_size=MAX_HEAD, header_timeout=10.0, keepalive_timeout=20.0, max_buffered_body=256)
    client = engine.ClientConnection(loop, policy, config)
    transport = FakeTransport()
    transport.protocol = client
    client.connection_made(transport)
    app = App(case.app_seed)

    def settle(eager: bool = True) -> bool:
        """Let the app answer and deliver connection_lost for closed transports, until quiet."""
        progress = False
        while True:
            step = app.pump(pool, eager)
            if eager:
                step = policy.release() or step
            for t in [transport, *(conn.transport for conn in pool.opened)]:
                if t.closed and not t.lost:
                    t.lose()
                    step = True
            if not step:
                return progress
            progress = True

    reads = list(case.reads)
    while reads and not transport.closed:
        if transport.reading:
            client.data_received(reads.pop(0))  # raising here fails the test
            settle(eager=False)
        elif not settle():
            break  # paused for good: the timers below must end it
    if case.hangup:
        transport.lose()  # a slow app has not answered yet: the engine must drop what it forwarded
    settle()
    for _ in range(6):
        loop.advance(15.0)
        settle()
    return Outcome(
        bytes(transport.written),
        [bytes(conn.transport.written) for conn in pool.opened],
        [transport.writes, *(conn.transport.writes for conn in pool.opened)],
        policy.events,
        [str(context.get("exception")) for context in loop.errors],
        transport.closed,
        transport.aborted,
        transport.pauses,
        transport.reading,
        app.heads,
        app.answered,
        app.stalled,
    )


def responses(downstream: bytes) -> list[bytes]:
    """The output cut where each response starts (bodies here never contain a status line)."""
    starts = [i for i in range(len(downstream)) if downstream.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "), i)]
    return [downstream[a:b] for a, b in zip(starts, [*starts[1:], len(downstream)])]


def check(case: Case, out: Outcome) -> set:
    """The invariants of one outcome; returns what kinds of outcome it showed."""
    assert out.errors == [], "a callback raised"
    assert out.closed, "the connection must end, by an answer, a refusal or a timeout"
    seen = set()
    parts = responses(out.downstream)
    assert b"".join(parts) == out.downstream, "output must start with a status line"
    relayed = 0
    for i, part in enumerate(parts):
        head_end = part.find(b"\r\n\r\n") + 4
        if part == b"HTTP/1.1 100 Continue\r\n\r\n":
            seen.add("interim")
        elif ENGINE_MADE in part[:head_end]:
            status = int(part[9:12])
            assert status in REFUSALS | FAILURES, part
            assert b"\r\nConnection: close\r\n" in part[:head_end], part
            length = int(part[part.index(b"Content-Length: ") + 16 : part.index(b"\r\n", part.index(b"Content-Length: "))])
            assert len(part) in (head_end, head_end + length), "an error response ends the output"
            assert i == len(parts) - 1, "nothing follows an error response"
            seen.add(status)
        else:
            assert b"\r\nX-App: " in part[:head_end], part
            relayed += 1
            seen.add("relayed")
            if part.startswith(b"HTTP/1.0 "):
                seen.add("http/1.0 client")
    assert relayed == out.answered + out.stalled, "every answer of the app reaches the client"
    if any(case.reads) and not case.hangup:
        assert out.app_heads or any(isinstance(k, int) for k in seen), "input must be forwarded or refused"
    for head in out.app_heads:
        assert head.version == 11
        names = {name.lower() for name, _ in head.headers}
        dropped = names & HOP_BY_HOP
        assert dropped <= ({b"upgrade", b"connection"} if head.upgrade else set()), head.headers
    if out.pauses:
        seen.add("paused")
    seen.update(event[0] for event in out.events if event[0] in ("abort", "timeout", "upstream error"))
    if out.stalled and out.aborted:
        seen.add("cut")
    return seen


@pytest.fixture(params=twin_params(BASE, fully_pure=True))
def builds(request):
    """The build under test first, then the other build when there is one."""
    return [load(request.param)] + [load(name) for name in BUILDS if name != request.param]


def test_request_streams_end_forwarded_or_refused_and_builds_agree(builds):
    deadline = time.monotonic() + BUDGET
    seen = set()
    for seed in range(CASES):
        if time.monotonic() > deadline:
            break
        case = make_case(seed)
        outcomes = [run(engine, case) for engine in builds]
        seen |= check(case, outcomes[0])
        for other in outcomes[1:]:
            assert other.comparable() == outcomes[0].comparable(), f"builds differ on case {seed}: {case}"
    # the generator reaches every kind of outcome
    kinds = {"relayed", "interim", "paused", "http/1.0 client", "abort", "upstream error", "cut"}
    assert REFUSALS | FAILURES | kinds <= seen, seen


# -- head builders -------------------------------------------------------------------------------------

NAMES = [
    b"Host", b"host", b"HOST", b"Connection", b"Keep-Alive", b"keep-alive", b"Proxy-Connection", b"TE", b"te",
    b"Upgrade", b"Proxy-Authenticate", b"Proxy-Authorization", b"Transfer-Encoding", b"Content-Length",
    b"X-Forwarded-For", b"x-forwarded-for", b"Forwarded", b"K-Original-Host", b"User-Agent", b"X-Secret",
    b"X-A", b"x-a", b"Accept", b"A", b"X-" + b"l" * 70,
]  # fmt: skip


class FakeHead:
    def __init__(self, rng: random.Random):
        self.method = rng.choice([b"GET", b"HEAD", b"POST"])
        self.target = rng.choice([b"/", b"/a?b=c"])
        self.status = rng.choice([100, 101, 200, 204, 304, 404, 502, 999, -5])
        self.reason = rng.choice([b"", b"OK", b"Whatever It Is"])
        self.headers = [(rng.choice(NAMES), payload(rng, 0, 6)) for _ in range(rng.randint(0, 8))]
        lowered = sorted({name.lower() for name in NAMES})
        self.connection_tokens = tuple(rng.sample(lowered, rng.randint(0, 2)))


def builder_outputs(engine, seed: int) -> list:
    rng = random.Random(seed)
    head = FakeHead(rng)
    lowered = sorted({name.lower() for name in NAMES}) + [b"absent"]
    replace = {name: rng.choice([None, b"v", b""]) for name in rng.sample(lowered, rng.randint(0, 4))}
    wanted = frozenset(rng.sample(lowered, rng.randint(0, 6)))
    extra = [(rng.choice(NAMES), b"e")] if rng.random() < 0.5 else None
    flags = [rng.random() < 0.5 for _ in range(4)]
    return [
        engine.request_head(head, replace, flags[0], b"default:80"),
        engine.response_head(head, flags[1], flags[2], flags[3], extra),
        engine.collect(head.headers, wanted),
        engine.collect(head.headers, set(wanted)),
        engine.simple_response(head.status, head.reason, flags[0], extra, flags[1], b"t/x"),
    ]


def test_head_builders_agree(builds):
    for seed in range(3000):
        outputs = [builder_outputs(engine, seed) for engine in builds]
        assert all(out == outputs[0] for out in outputs), seed

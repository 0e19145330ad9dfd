"""Seeded fuzzing: any input gives a head, None or an HttpError, and both builds agree exactly."""

from __future__ import annotations

import random
import time

import pytest

from dataplane.http.errors import HttpError
from tests.twins import load, twin_params
from tests.unit.http.test_parser_corpus import INTERESTING, make_requests, mutate

BASE = "dataplane.http._parser"
BUILDS = [p.values[0] for p in twin_params(BASE)]
REQUEST_ATTRS = (
    "method", "target", "version", "headers", "head_len", "content_length",
    "chunked", "keep_alive", "upgrade", "expect_continue", "connection_tokens",
)
RESPONSE_ATTRS = (
    "status", "reason", "version", "headers", "head_len", "content_length",
    "chunked", "keep_alive", "connection_tokens",
)
BUDGET = 30.0  # seconds per test, a guard against a slow machine; the counts normally finish far sooner


@pytest.fixture(params=twin_params(BASE))
def builds(request):
    """The build under test first, then the other build when there is one."""
    return [load(request.param)] + [load(name) for name in BUILDS if name != request.param]


def outcome(parse, data, max_size: int, names: tuple[str, ...]) -> tuple:
    try:
        head = parse(data, max_size)
    except HttpError as exc:
        return ("error", exc.status, exc.reason)
    if head is None:
        return ("none",)
    return ("head",) + tuple(getattr(head, name) for name in names)


def responses(rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        status = rng.choice((100, 101, 200, 204, 304, 404, 502))
        line = b"HTTP/1.%d %d%s" % (rng.choice((0, 1)), status, rng.choice((b"", b" ", b" OK")))
        fields = rng.sample(
            [
                b"Content-Length: 12",
                b"Transfer-Encoding: chunked",
                b"Transfer-Encoding: gzip, chunked",
                b"Connection: close",
                b"Connection: keep-alive, Upgrade",
                b"Upgrade: websocket",
                b"Content-Type: text/plain; charset=utf-8",
                b"Set-Cookie: a=b; Path=/",
                b"Server: app",
            ],
            rng.randint(0, 5),
        )
        out.append(b"\r\n".join([line, *fields]) + b"\r\n\r\n" + b"hello, world")
    return out


def noise(rng: random.Random) -> bytes:
    alphabet = INTERESTING + b"GETPOSTHTP/1. \r\n:chunked0123456789"
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))


def fuzz_inputs(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    valid = [s.raw for s in make_requests(seed, 150)] + responses(rng, 150)
    inputs = list(valid)
    inputs += [mutate(rng, rng.choice(valid)) for _ in range(2500)]
    inputs += [noise(rng) for _ in range(500)]
    return inputs


def test_heads_never_raise_anything_else_and_builds_agree(builds):
    rng = random.Random(1)
    deadline = time.monotonic() + BUDGET
    seen = set()
    for data in fuzz_inputs(7):
        if time.monotonic() > deadline:
            break
        sizes = (64 * 1024, rng.randint(0, len(data) + 4))
        for max_size in sizes:
            for buf in (data, bytearray(data)):
                req = [outcome(m.parse_request_head, buf, max_size, REQUEST_ATTRS) for m in builds]
                resp = [outcome(m.parse_response_head, buf, max_size, RESPONSE_ATTRS) for m in builds]
                assert all(r == req[0] for r in req), (data, max_size)
                assert all(r == resp[0] for r in resp), (data, max_size)
                seen.update(r[:2] if r[0] == "error" else r[:1] for r in (req[0], resp[0]))
    # the inputs reach every outcome
    assert {("head",), ("none",), *(("error", status) for status in (400, 431, 501, 502, 505))} <= seen


def scan(scanner_type, body: bytes, cuts: list[int]) -> list:
    """Feed ``body`` in pieces; what each feed returned, then done or the error."""
    scanner = scanner_type()
    results = []
    last = 0
    try:
        for cut in [*cuts, len(body)]:
            results.append(scanner.feed(body[:cut], last))
            last = cut
            if scanner.done:
                break
    except HttpError as exc:
        return results + [("error", exc.status, exc.reason)]
    return results + [scanner.done]


def chunked_bodies(rng: random.Random) -> list[bytes]:
    bodies = []
    for sample in make_requests(11, 300):
        if sample.chunked:
            bodies.append(sample.raw[sample.head_len :] + b"POST")
    out = list(bodies)
    alphabet = b"0123456789abcdefABCDEFxX;=\r\n \t:\x00\x7f\x80"
    for _ in range(2000):
        if rng.random() < 0.8:
            body = bytearray(rng.choice(bodies))
            for _ in range(rng.randint(1, 3)):
                pos = rng.randrange(len(body))
                body[pos : pos + rng.randint(0, 1)] = bytes([rng.choice(alphabet)])
            out.append(bytes(body))
        else:
            out.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 60))))
    return out


def test_chunked_scanner_never_raises_anything_else_and_builds_agree(builds):
    rng = random.Random(3)
    deadline = time.monotonic() + BUDGET
    outcomes = set()
    for body in chunked_bodies(rng):
        if time.monotonic() > deadline:
            break
        cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 4))))
        results = [scan(m.ChunkedScanner, body, cuts) for m in builds]
        assert all(r == results[0] for r in results), (body, cuts)
        # where the body ends, or which error it has, does not depend on how it was cut
        whole = scan(builds[0].ChunkedScanner, body, [])
        assert whole[-1] == results[0][-1], (body, cuts)
        if whole[-1] is True:
            assert whole[-2] == results[0][-2], (body, cuts)
        outcomes.add(results[0][-1] if results[0][-1] in (True, False) else "error")
    assert outcomes == {True, False, "error"}

"""A seeded corpus of valid and mutated requests, checked against what it was built from.

The reference and fuzz tests import the generators from here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from dataplane.http.errors import HttpError
from tests.twins import load, twin_params

SEED = 9112
MAX = 64 * 1024

# methods every reference parser knows (llhttp only takes registered ones)
METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"PROPFIND", b"M-SEARCH", b"PURGE"]
TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TARGET_BYTES = bytes(range(0x21, 0x7F))
VALUE_BYTES = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))
SPECIAL = {b"content-length", b"transfer-encoding", b"connection", b"upgrade", b"expect", b"host", b"proxy-connection"}
COMMON_FIELDS = [
    (b"User-Agent", b"curl/8.5.0"),
    (b"Accept", b"text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
    (b"Accept-Encoding", b"gzip, deflate, br"),
    (b"Cookie", b"session=abc123; theme=dark"),
    (b"X-Forwarded-For", b"10.0.0.1, 10.0.0.2"),
]


@dataclass
class Sample:
    """A request and what parsing it must give."""

    raw: bytes
    method: bytes
    target: bytes  # as parsed: origin-form for an absolute-form target
    version: int
    headers: list = field(default_factory=list)  # as parsed: Host made the target's authority
    authority: bytes = b""
    head_len: int = 0
    content_length: int = -1
    chunked: bool = False
    keep_alive: bool = True
    body_end: int = 0  # index just past the body
    leading_crlf: bool = False


def _pick(rng: random.Random, alphabet: bytes, lo: int, hi: int) -> bytes:
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def _ows(rng: random.Random) -> bytes:
    return bytes(rng.choice(b" \t") for _ in range(rng.choice((0, 0, 1, 2))))


def _value(rng: random.Random) -> bytes:
    if rng.random() < 0.1:
        return b""
    words = [_pick(rng, VALUE_BYTES, 1, 12) for _ in range(rng.randint(1, 3))]
    return b"".join(w + (rng.choice((b" ", b"\t", b"  ")) if i < len(words) - 1 else b"") for i, w in enumerate(words))


def _name(rng: random.Random) -> bytes:
    while True:
        name = _pick(rng, TCHARS, 1, 20)
        if name.lower() not in SPECIAL:
            return name


def _chunked_body(rng: random.Random) -> bytes:
    out = bytearray()
    for _ in range(rng.randint(0, 4)):
        data = _pick(rng, bytes(range(256)), 1, 40)
        size = b"%x" % len(data)
        out += size.upper() if rng.random() < 0.5 else size
        if rng.random() < 0.3:
            out += b";ext=" + _pick(rng, TCHARS, 1, 6)
        out += b"\r\n" + data + b"\r\n"
    out += b"0\r\n"
    if rng.random() < 0.3:
        out += b"X-Checksum: " + _pick(rng, TCHARS, 1, 10) + b"\r\n"
    return bytes(out + b"\r\n")


def make_requests(seed: int = SEED, count: int = 300) -> list[Sample]:
    """Valid requests, built from random parts with a fixed seed."""
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        version = 11 if rng.random() < 0.85 else 10
        method = rng.choice(METHODS)
        form = rng.random()
        authority = b""
        if form < 0.7:
            target = b"/" + _pick(rng, TARGET_BYTES, 0, 40)
        elif form < 0.85:
            authority = b"svc.default.example.com:8080"
            target = b"http://" + authority + b"/" + _pick(rng, TCHARS, 0, 20)
        else:
            method, target = b"OPTIONS", b"*"
        fields = [(_name(rng), _value(rng)) for _ in range(rng.randint(0, 12))]
        fields += rng.sample(COMMON_FIELDS, rng.randint(0, len(COMMON_FIELDS)))
        if version == 11 or rng.random() < 0.5:
            fields.insert(rng.randint(0, len(fields)), (b"Host", b"svc.example.com"))
        body = b""
        framing = rng.random()
        chunked = version == 11 and framing < 0.25
        if chunked:
            body = _chunked_body(rng)
            fields.insert(rng.randint(0, len(fields)), (b"Transfer-Encoding", b"chunked"))
        elif framing < 0.6:
            body = _pick(rng, bytes(range(256)), 0, 60)
            fields.insert(rng.randint(0, len(fields)), (b"Content-Length", b"%d" % len(body)))
        keep_alive = version == 11
        if rng.random() < 0.3:
            token = rng.choice((b"keep-alive", b"close", b"Keep-Alive"))
            fields.insert(rng.randint(0, len(fields)), (b"Connection", token))
            keep_alive = token != b"close"
        leading = rng.random() < 0.05
        head = bytearray(b"\r\n" if leading else b"")
        head += b"%s %s HTTP/1.%d\r\n" % (method, target, version % 10)
        for name, value in fields:
            after = _ows(rng)
            if name == b"Transfer-Encoding":
                after = after.replace(b"\t", b" ")  # llhttp reads "chunked<HTAB>" as another coding
            head += name + b":" + _ows(rng) + value + after + b"\r\n"
        head += b"\r\n"
        parsed = fields
        if authority:  # RFC 9112 §3.2.2: the target's authority replaces Host, and the target is origin-form
            target = target[len(b"http://") + len(authority) :]
            parsed = [(n, authority if n == b"Host" else v) for n, v in fields]
            if (b"Host", authority) not in parsed:
                parsed.append((b"Host", authority))
        samples.append(
            Sample(
                raw=bytes(head) + body,
                method=method,
                target=target,
                version=version,
                headers=parsed,
                authority=authority,
                head_len=len(head),
                content_length=-1 if chunked or framing >= 0.6 else len(body),
                chunked=chunked,
                keep_alive=keep_alive,
                body_end=len(head) + len(body),
                leading_crlf=leading,
            )
        )
    return samples


INTERESTING = b"\r\n \t:\x00\x0b\x7f\x80\xff,;=\"029aA/-"
ATTACK_LINES = [
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: chunked, identity",
    b"Transfer-Encoding : chunked",
    b"Transfer-Encoding:\x0bchunked",
    b"Transfer_Encoding: chunked",
    b"Content-Length: 5",
    b"Content-Length: 6",
    b"Content-Length: +5",
    b"Content-Length: 5 5",
    b"Host: other",
    b" folded",
    b"X : y",
    b"X\x00: y",
    b"\x1bX: y",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """``data`` with one to three random edits, biased toward the head."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        end = data.find(b"\r\n\r\n") + 4 if b"\r\n\r\n" in data else len(out)
        pos = rng.randrange(max(1, min(end, len(out))))
        op = rng.random()
        if op < 0.35:
            out[pos : pos + 1] = bytes([rng.choice(INTERESTING)])
        elif op < 0.6:
            out[pos:pos] = bytes([rng.choice(INTERESTING)])
        elif op < 0.75:
            del out[pos : pos + rng.randint(1, 3)]
        else:
            line = out.find(b"\r\n", pos)
            if line >= 0:
                out[line + 2 : line + 2] = rng.choice(ATTACK_LINES) + b"\r\n"
    return bytes(out)


@pytest.fixture(params=twin_params("dataplane.http._parser"))
def mod(request):
    return load(request.param)


def test_corpus_is_deterministic():
    assert [s.raw for s in make_requests(count=20)] == [s.raw for s in make_requests(count=20)]


def test_every_sample_parses_to_what_it_was_built_from(mod):
    for sample in make_requests():
        head = mod.parse_request_head(sample.raw, MAX)
        assert (head.method, head.target, head.authority, head.version, head.headers) == (
            sample.method, sample.target, sample.authority, sample.version, sample.headers,
        ), sample.raw
        assert (head.head_len, head.content_length, head.chunked, head.keep_alive) == (
            sample.head_len, sample.content_length, sample.chunked, sample.keep_alive,
        ), sample.raw
        if sample.chunked:
            scanner = mod.ChunkedScanner()
            assert scanner.feed(sample.raw + b"GET", sample.head_len) == sample.body_end
            assert scanner.done


def test_samples_fed_one_byte_at_a_time(mod):
    for sample in make_requests(count=40):
        buf = bytearray()
        for byte in sample.raw[: sample.head_len - 1]:
            buf.append(byte)
            assert mod.parse_request_head(buf, MAX) is None, bytes(buf)
        buf.append(sample.raw[sample.head_len - 1])
        assert mod.parse_request_head(buf, MAX).headers == sample.headers


def test_mutations_parse_or_fail_cleanly(mod):
    rng = random.Random(SEED)
    outcomes = set()
    for sample in make_requests(count=200):
        try:
            head = mod.parse_request_head(mutate(rng, sample.raw), MAX)
        except HttpError as exc:
            outcomes.add(exc.status)
        else:
            outcomes.add("none" if head is None else "head")
    # the mutations reach every kind of outcome, not just one
    assert {400, "head", "none"} <= outcomes

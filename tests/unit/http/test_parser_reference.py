"""Differential tests against two reference parsers, httptools (llhttp) and h11; both builds.

Valid requests must parse to the same method, target, version and fields, and
the references must see the body end where ``ChunkedScanner`` (or
Content-Length) says. Wherever both references refuse a head, we refuse it too.

Known differences, allowed for here:

* llhttp only takes registered methods: its method errors count as no opinion;
* h11 does not skip empty lines before the request line (RFC 9112 §2.2
  says a server SHOULD): it is given the input without them;
* llhttp keeps trailing whitespace in field values; we and h11 trim it;
* llhttp reads ``chunked<HTAB>`` as an unknown coding (the corpus avoids it);
* llhttp checks the request-target's URL syntax; we only check its bytes, and
  the form: origin, ``*``, CONNECT's authority-form, or http(s) absolute-form;
* an absolute-form target is handed on in origin-form with Host set to its
  authority (RFC 9112 §3.2.2): the references' results are reduced alike.

Where we are deliberately stricter than both, the reason must be one of
``STRICTER_THAN_BOTH``. Stricter than one of them, by design: bare LF,
obs-fold, CTLs and DEL in values, Content-Length with Transfer-Encoding (h11
takes all of these); a missing or repeated Host, and any Transfer-Encoding but
exactly ``chunked`` (llhttp takes these).
"""

from __future__ import annotations

import random

import h11
import httptools
import pytest

from dataplane.http.errors import HttpError
from tests.twins import load, twin_params
from tests.unit.http.test_parser_corpus import MAX, SEED, make_requests, mutate

ACCEPT, REJECT, INCOMPLETE, NO_OPINION = "accept", "reject", "incomplete", "no opinion"

STRICTER_THAN_BOTH = {
    # RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty framing
    "transfer-encoding in HTTP/1.0",
    # RFC 9112 §3.2: only the four target forms; an absolute-form target only as http(s)://name-or-IP[:port]
    "bad request target",
}


@pytest.fixture(params=twin_params("dataplane.http._parser"))
def mod(request):
    return load(request.param)


class _Collector:
    """httptools callbacks that record the head and whether the message ended."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # later calls are trailer fields
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_message_complete(self) -> None:
        self.complete = True


def httptools_parse(data: bytes):
    """(verdict, head or None, message complete)."""
    seen = _Collector()
    parser = httptools.HttpRequestParser(seen)
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        pass
    except httptools.HttpParserInvalidMethodError:
        return NO_OPINION, None, False
    except httptools.HttpParserError:
        if not seen.head_done:
            return REJECT, None, False
    if not seen.head_done:
        return INCOMPLETE, None, False
    version = 11 if parser.get_http_version() == "1.1" else 10
    headers = [(n, v.rstrip(b" \t")) for n, v in seen.headers]
    return ACCEPT, (parser.get_method(), seen.url, version, headers), seen.complete


def h11_parse(data: bytes):
    """(verdict, head or None, message complete)."""
    while data.startswith(b"\r\n"):
        data = data[2:]
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return REJECT, None, False
    if event is h11.NEED_DATA:
        return INCOMPLETE, None, False
    head = (event.method, event.target, 11 if event.http_version == b"1.1" else 10, list(event.headers.raw_items()))
    try:
        while (event := conn.next_event()) is not h11.NEED_DATA:
            if type(event) is h11.EndOfMessage:
                return ACCEPT, head, True
    except h11.RemoteProtocolError:
        pass  # an error in the body: the head itself was accepted
    return ACCEPT, head, False


def ours(mod, data: bytes):
    """Our verdict; a head still incomplete is completed with an empty line first."""
    for attempt in (data, data + b"\r\n\r\n"):
        try:
            head = mod.parse_request_head(attempt, MAX)
        except HttpError as exc:
            return REJECT, exc.reason
        if head is not None:
            return ACCEPT, (head.method, head.target, head.version, head.headers)
    raise AssertionError("an empty line always completes the head")


def as_forwarded(head):
    """A reference's (method, target, version, headers) as we hand them on: an absolute-form
    target in origin-form, and Host its authority (RFC 9112 §3.2.2)."""
    method, target, version, headers = head
    scheme = next((p for p in (b"http://", b"https://") if target.lower().startswith(p)), None)
    if scheme is None:
        return head
    rest = target[len(scheme) :]
    cut = min([i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0] or [len(rest)])
    authority, path = rest[:cut], rest[cut:]
    if not path:
        path = b"*" if method == b"OPTIONS" else b"/"
    elif path.startswith(b"?"):
        path = b"/" + path
    hosts = [i for i, (name, _) in enumerate(headers) if name.lower() == b"host"]
    headers = list(headers)
    if hosts:
        headers[hosts[0]] = (headers[hosts[0]][0], authority)
    else:
        headers.append((b"Host", authority))
    return method, path, version, headers


def test_valid_corpus_matches_both_references(mod):
    for sample in make_requests():
        verdict, head = ours(mod, sample.raw)
        assert verdict == ACCEPT, (head, sample.raw)
        ht_verdict, ht_head, ht_complete = httptools_parse(sample.raw)
        assert (ht_verdict, as_forwarded(ht_head)) == (ACCEPT, head), sample.raw
        h11_verdict, h11_head, h11_complete = h11_parse(sample.raw)
        assert (h11_verdict, as_forwarded(h11_head)) == (ACCEPT, head), sample.raw
        # the references see the message end exactly where our framing says
        assert ht_complete and h11_complete, sample.raw
        if sample.body_end > sample.head_len:
            assert not httptools_parse(sample.raw[: sample.body_end - 1])[2]
            assert not h11_parse(sample.raw[: sample.body_end - 1])[2]


def test_chunked_end_matches_both_references(mod):
    for sample in make_requests():
        if not sample.chunked:
            continue
        scanner = mod.ChunkedScanner()
        end = scanner.feed(sample.raw + b"GET / HTTP/1.1\r\n", sample.head_len)
        assert (end, scanner.done) == (sample.body_end, True)
        assert httptools_parse(sample.raw[:end])[2] and h11_parse(sample.raw[:end])[2]
        assert not httptools_parse(sample.raw[: end - 1])[2] and not h11_parse(sample.raw[: end - 1])[2]


SMUGGLING = [
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\n Content-Length: 5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
    b"GET\x00/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n",
]


def test_both_references_refuse_so_do_we(mod):
    rng = random.Random(SEED)
    inputs = list(SMUGGLING)
    for sample in make_requests(count=300):
        inputs += [mutate(rng, sample.raw) for _ in range(5)]
    both_refused = 0
    for data in inputs:
        ht_verdict = httptools_parse(data)[0]
        h11_verdict = h11_parse(data)[0]
        verdict, detail = ours(mod, data)
        if ht_verdict == REJECT and h11_verdict == REJECT:
            both_refused += 1
            assert verdict == REJECT, data
        elif ht_verdict == ACCEPT and h11_verdict == ACCEPT and verdict == REJECT:
            assert detail in STRICTER_THAN_BOTH, (detail, data)
    assert both_refused > 500  # the mutations do reach the interesting cases

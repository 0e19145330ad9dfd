"""Forwarded synthesis matches upstream's shim, case for case; X-Forwarded-For appending."""

from __future__ import annotations

import pytest

from dataplane.http.forwarded import append_xff, forwarded_header, forwarded_hop


@pytest.mark.parametrize(
    "xff, xfh, xfp, fwd, want",
    [
        # upstream's table (pkg/queue/forwarded_shim_test.go)
        (b"127.0.0.1, ::1", b"h", b"p", None, b'for=127.0.0.1;host=h;proto=p, for="[::1]"'),
        (b"127.0.0.1", b"h", b"p", None, b"for=127.0.0.1;host=h;proto=p"),
        (b"127.0.0.1, ::1", None, None, None, b'for=127.0.0.1, for="[::1]"'),
        (b"127.0.0.1, ::1", None, b"p", None, b'for=127.0.0.1;proto=p, for="[::1]"'),
        (b"127.0.0.1, ::1", b"h", None, None, b'for=127.0.0.1;host=h, for="[::1]"'),
        (None, b"h", None, None, b"host=h"),
        (None, None, b"p", None, b"proto=p"),
        (None, b"h", b"p", None, b"host=h;proto=p"),
        (b"127.0.0.1, ::1", b"h", b"p", b"for=a, for=b", None),
        # IPv6 first hop, whitespace everywhere, three hops
        (b" 2001:db8::1 ,10.0.0.1,  fe80::2 ", b" example.com ", b" https ", None,
         b'for="[2001:db8::1]";host=example.com;proto=https, for=10.0.0.1, for="[fe80::2]"'),
        # nothing usable
        (None, None, None, None, None),
        (b"", b"  ", b"", None, None),
        # a blank Forwarded counts as absent
        (b"1.2.3.4", None, None, b"   ", b"for=1.2.3.4"),
        # upstream quirks, kept: empty hops, and IPv4 with a port looks like IPv6
        (b"1.2.3.4,,5.6.7.8", None, None, None, b"for=1.2.3.4, for=, for=5.6.7.8"),
        (b", 5.6.7.8", None, b"http", None, b"proto=http, for=5.6.7.8"),
        (b"1.2.3.4:8080", None, None, None, b'for="[1.2.3.4:8080]"'),
    ],
)
def test_forwarded_header(xff, xfh, xfp, fwd, want):
    assert forwarded_header(xff, xfp, xfh, fwd) == want


@pytest.mark.parametrize(
    "existing, ip, want",
    [
        (None, "10.0.0.1", b"10.0.0.1"),
        (b"", "10.0.0.1", b"10.0.0.1"),
        (b"  ", "10.0.0.1", b"10.0.0.1"),
        (b"1.2.3.4", "10.0.0.1", b"1.2.3.4, 10.0.0.1"),
        (b"1.2.3.4, 5.6.7.8 ", "::1", b"1.2.3.4, 5.6.7.8, ::1"),
    ],
)
def test_append_xff(existing, ip, want):
    assert append_xff(existing, ip) == want


@pytest.mark.parametrize(
    "fwd, xff, xfp, xfh, peer, want",
    [
        # nothing before this hop: its element alone, with proto=
        (None, None, None, None, b"10.0.0.9", b"for=10.0.0.9;proto=http"),
        # a client's Forwarded gets this hop appended, never passed unchanged
        (b"for=1.2.3.4;proto=https", None, None, None, b"10.0.0.9", b"for=1.2.3.4;proto=https, for=10.0.0.9;proto=http"),
        (b"for=a, for=b", b"9.9.9.9", b"https", None, b"::1", b'for=a, for=b, for="[::1]";proto=http'),
        # no Forwarded: the earlier hops from X-Forwarded-*, as the shim makes them, then this hop
        (None, b"1.1.1.1, 2.2.2.2", b"https", b"h", b"10.0.0.9",
         b"for=1.1.1.1;host=h;proto=https, for=2.2.2.2, for=10.0.0.9;proto=http"),
        (b"  ", None, b"https", None, b"10.0.0.9", b"proto=https, for=10.0.0.9;proto=http"),
        (None, b"", None, None, b"10.0.0.9", b"for=10.0.0.9;proto=http"),
    ],
)  # fmt: skip
def test_forwarded_hop(fwd, xff, xfp, xfh, peer, want):
    assert forwarded_hop(fwd, xff, xfp, xfh, peer, b"http") == want

"""Micro-benchmark: parsing typical request heads, our twins against httptools and h11.

    ./dev.sh bench parser [--rounds 9 --ms 20 --cpu 1]
    .venv/bin/python loadtests/bench_parser.py [...]     (compiled twin already built)

Prints microseconds per head (median over rounds, CPU time of this process)
and the ratio to the compiled twin. Cases and parsers are interleaved within
each round so a noisy neighbour hits them all alike.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import h11
import httptools

from dataplane.http import _parser_c, _parser_py

MAX = 8192

CURL_GET = (
    b"GET /api/v1/items?limit=10 HTTP/1.1\r\n"
    b"Host: hello.default.example.com\r\n"
    b"User-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\n"
    b"X-Request-Id: 5f0c6a3e-2b1d-4c1e-9a57-0d6c1f1e2a3b\r\n"
    b"\r\n"
)
BROWSER_GET = (
    b"GET /static/app.js?v=3 HTTP/1.1\r\n"
    b"Host: hello.default.example.com\r\n"
    b"Connection: keep-alive\r\n"
    b'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r\n'
    b"sec-ch-ua-mobile: ?0\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: */*\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Referer: https://hello.default.example.com/\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-GB,en;q=0.9\r\n"
    b"\r\n"
)
POST_CHUNKED = (
    b"POST /upload HTTP/1.1\r\n"
    b"Host: hello.default.example.com\r\n"
    b"User-Agent: python-requests/2.32.3\r\n"
    b"Accept: application/json\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)
CASES = {"curl GET, 4 fields": CURL_GET, "browser GET, 12 fields": BROWSER_GET, "POST chunked, 5 fields": POST_CHUNKED}


class _Headers:
    """httptools callbacks collecting what our parser returns: target and a field list."""

    __slots__ = ("url", "headers")

    def __init__(self) -> None:
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))


def ours(module):
    """A runner for one of our twins."""
    parse = module.parse_request_head

    def run(data: bytes) -> None:
        parse(data, MAX)

    return run


def httptools_fresh(data: bytes) -> None:
    """A new parser per head, as for the first request on a connection."""
    seen = _Headers()
    parser = httptools.HttpRequestParser(seen)
    parser.feed_data(data)
    parser.get_method()


def httptools_reused():
    """One parser across messages, as on a keep-alive connection; a chunked head also gets its last chunk."""
    seen = _Headers()
    parser = httptools.HttpRequestParser(seen)

    def run(data: bytes) -> None:
        seen.headers = []
        parser.feed_data(data)
        parser.get_method()

    return run


def h11_fresh(data: bytes) -> None:
    """A new connection per head: h11 takes the next request only after a response."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.next_event()


PARSERS = {
    "compiled": lambda: ours(_parser_c),
    "pure": lambda: ours(_parser_py),
    "httptools": lambda: httptools_fresh,
    "httptools reused": httptools_reused,
    "h11": lambda: h11_fresh,
}


def payload(parser: str, data: bytes) -> bytes:
    """What ``parser`` is fed for the head ``data``."""
    if parser == "httptools reused" and b"chunked" in data:
        return data + b"0\r\n\r\n"  # lets the reused parser finish the message
    return data


def calibrate(run, data: bytes, ms: float) -> int:
    """Calls per measurement so that one takes about ``ms`` CPU milliseconds."""
    loops = 1
    while True:
        start = time.process_time_ns()
        for _ in range(loops):
            run(data)
        if time.process_time_ns() - start >= ms * 1e6 / 4:
            return loops * 4
        loops *= 2


def measure(run, data: bytes, loops: int) -> float:
    """CPU microseconds per call."""
    start = time.process_time_ns()
    for _ in range(loops):
        run(data)
    return (time.process_time_ns() - start) / loops / 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags of the parser benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--ms", type=float, default=20.0, help="target CPU milliseconds per measurement")
    p.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Time every parser on every case and print the table."""
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    for data in CASES.values():
        heads = [_parser_c.parse_request_head(data, MAX), _parser_py.parse_request_head(data, MAX)]
        assert heads[0].headers == heads[1].headers
    runs = {name: make() for name, make in PARSERS.items()}
    loops = {(c, p): calibrate(runs[p], payload(p, d), args.ms) for c, d in CASES.items() for p in runs}
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in loops}
    gc.disable()  # as timeit does: collections would land on whichever parser happens to be running
    try:
        for _ in range(args.rounds):
            for case, data in CASES.items():
                for parser, run in runs.items():
                    samples[case, parser].append(measure(run, payload(parser, data), loops[case, parser]))
    finally:
        gc.enable()

    width = max(map(len, CASES)) + 2
    print(f"µs per head, median of {args.rounds} rounds (CPU time); ratio to the compiled twin in brackets")
    print("".ljust(width) + "".join(p.rjust(22) for p in runs))
    for case in CASES:
        base = statistics.median(samples[case, "compiled"])
        cells = []
        for parser in runs:
            us = statistics.median(samples[case, parser])
            cells.append(f"{us:8.2f} ({us / base:5.1f}x)".rjust(22))
        print(case.ljust(width) + "".join(cells))


if __name__ == "__main__":
    main()

"""Micro-benchmark: the HTTP/2 session twins serving request/response exchanges, socket-free.

    ./dev.sh bench h2session [--rounds 21 --exchanges 400 --cpu 1]
    .venv/bin/python loadtests/bench_h2session.py [...]     (compiled twin already built)

A server session is fed a client's bytes, one exchange per ``receive``: HEADERS
(a curl-like request) and a 64-byte DATA ending the stream; for each it answers
HEADERS (:status 200, two fields) and a 100-byte DATA ending the stream, and
acknowledges the request body as consumed. CPU microseconds per exchange,
median over short rounds in which the cases take turns (the machine is shared),
with the spread (lowest and highest round), and each case's ratio to the
compiled twin. "raw h2" is ``h2.H2Connection`` driven directly, as the pure
twin's floor.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import statistics
import time

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, StreamEnded
from h2.settings import SettingCodes

from dataplane.http import _h2_c, _h2_py

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/api/v1/items?limit=10"),
    (b":authority", b"hello.default.example.com"),
    (b"user-agent", b"curl/8.5.0"),
    (b"accept", b"*/*"),
    (b"content-type", b"application/json"),
    (b"content-length", b"64"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/json"), (b"content-length", b"100")]
REQUEST_BODY = b"q" * 64
RESPONSE_BODY = b"r" * 100
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def client_bytes(exchanges: int) -> list[bytes]:
    """What a client writes: preface and SETTINGS (with the ACK of ours), then one chunk per request."""
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    # the requests are written before any response comes back: lift the client's own stream cap
    client.remote_settings._settings[SettingCodes.MAX_CONCURRENT_STREAMS] = collections.deque([2**31 - 1])  # noqa: SLF001
    client.initiate_connection()
    chunks = [client.data_to_send() + SETTINGS_ACK]
    for _ in range(exchanges):
        sid = client.get_next_available_stream_id()
        client.send_headers(sid, REQUEST)
        client.send_data(sid, REQUEST_BODY, end_stream=True)
        chunks.append(client.data_to_send())
    return chunks


class Answer:
    """A session handler answering every request as soon as it ends."""

    __slots__ = ("session", "answered")

    def __init__(self) -> None:
        self.session = None
        self.answered = 0

    def on_headers(self, stream_id, headers):
        pass

    def on_data(self, stream_id, data):
        self.session.consumed(stream_id, len(data))

    def on_end(self, stream_id):
        session = self.session
        session.send_headers(stream_id, RESPONSE)
        session.send_data(stream_id, RESPONSE_BODY, end_stream=True)
        self.answered += 1

    def on_trailers(self, stream_id, headers):
        pass

    def on_reset(self, stream_id, error_code):
        pass

    def on_goaway(self, error_code, last_stream_id):
        pass

    def on_settings_acked(self):
        pass

    def on_window_update(self, stream_id):
        pass


def twin_run(module):
    def run(chunks: list[bytes]) -> int:
        handler = Answer()
        session = module.Session(handler)
        handler.session = session
        session.initiate()
        for chunk in chunks:
            session.receive(chunk)
            session.data_to_send()
        return handler.answered

    return run


def raw_h2(chunks: list[bytes]) -> int:
    conn = H2Connection(H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    answered = 0
    for chunk in chunks:
        for event in conn.receive_data(chunk):
            if type(event) is DataReceived:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif type(event) is StreamEnded:
                conn.send_headers(event.stream_id, RESPONSE)
                conn.send_data(event.stream_id, RESPONSE_BODY, end_stream=True)
                answered += 1
        conn.data_to_send()
    return answered


CASES = {"compiled": twin_run(_h2_c), "pure": twin_run(_h2_py), "raw h2": raw_h2}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags of the HTTP/2 session benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=21)
    p.add_argument("--exchanges", type=int, default=400, help="exchanges per session and round (< 650: one window)")
    p.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Time every case, interleaved, and print the table."""
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    chunks = client_bytes(args.exchanges)
    for name, run in CASES.items():
        answered = run(chunks)
        assert answered == args.exchanges, (name, answered)
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    gc.disable()  # as timeit does: a collection would land on whichever case happens to run
    try:
        for _ in range(args.rounds):
            for name, run in CASES.items():
                start = time.process_time_ns()
                run(chunks)
                samples[name].append((time.process_time_ns() - start) / args.exchanges / 1000)
                gc.collect()
    finally:
        gc.enable()
    base = statistics.median(samples["compiled"])
    print(f"CPU µs per exchange, {args.rounds} rounds of {args.exchanges}; spread = lowest..highest round")
    print(f"{'':10}{'median':>10}{'spread':>20}{'vs compiled':>14}")
    for name, values in samples.items():
        med = statistics.median(values)
        spread = f"{min(values):.1f}..{max(values):.1f}"
        print(f"{name:10}{med:10.1f}{spread:>20}{med / base:13.1f}x")


if __name__ == "__main__":
    main()

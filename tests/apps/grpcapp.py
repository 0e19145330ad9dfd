"""A gRPC app (h2c) for integration tests, run as its own process: `python grpcapp.py PORT`.

Service ``test.Echo``, raw bytes in and out (no protobuf):
  Unary          echoes the request; ``sleep:MS:ID`` sleeps MS ms first and records ID in
                 arrival order, and the most calls seen running at once
  ServerStream   ``N`` or ``N:MS`` -> N messages ``msg0``.., MS ms apart
  ClientStream   the requests joined
  Bidi           each request echoed as it arrives
  Stats          ``max=<most at once>;order=<ids, comma-separated>``
  Where          this app's port (a request ``MS`` sleeps MS ms first): which pod answered
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent import futures

import grpc

MAX = 32 * 1024 * 1024
lock = threading.Lock()
state = {"running": 0, "max": 0, "order": []}


def unary(request: bytes, context) -> bytes:
    if request.startswith(b"sleep:"):
        _, ms, ident = request.split(b":", 2)
        with lock:
            state["running"] += 1
            state["max"] = max(state["max"], state["running"])
            state["order"].append(ident.decode())
        try:
            time.sleep(int(ms) / 1000)
        finally:
            with lock:
                state["running"] -= 1
    return request


def server_stream(request: bytes, context):
    count, _, ms = request.partition(b":")
    for i in range(int(count)):
        if ms and i:
            time.sleep(int(ms) / 1000)
        yield b"msg%d" % i


def client_stream(requests, context) -> bytes:
    return b"".join(requests)


def bidi(requests, context):
    for request in requests:
        yield request


def stats(request: bytes, context) -> bytes:
    with lock:
        return b"max=%d;order=%s" % (state["max"], ",".join(state["order"]).encode())


def where(request: bytes, context) -> bytes:
    if request:
        time.sleep(int(request) / 1000)
    return sys.argv[1].encode()


def main() -> None:
    port = int(sys.argv[1])
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[("grpc.max_receive_message_length", MAX), ("grpc.max_send_message_length", MAX)],
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Echo",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(unary),
                    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
                    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
                    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
                    "Stats": grpc.unary_unary_rpc_method_handler(stats),
                    "Where": grpc.unary_unary_rpc_method_handler(where),
                },
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()

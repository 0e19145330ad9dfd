"""A gRPC app (h2c) for integration tests, run as its own process: `python grpcapp.py PORT [HEALTH]`.

Service ``test.Echo``, raw bytes in and out (no protobuf):
  Unary          echoes the request; ``sleep:MS:ID`` sleeps MS ms first and records ID in
                 arrival order, and the most calls seen running at once
  ServerStream   ``N`` or ``N:MS`` -> N messages ``msg0``.., MS ms apart
  ClientStream   the requests joined
  Bidi           each request echoed as it arrives
  Stats          ``max=<most at once>;order=<ids, comma-separated>``
  SetHealth      ``SERVICE=STATUS`` (e.g. ``=SERVING``, ``test.Echo=NOT_SERVING``) sets what grpcio's
                 health servicer (``grpc.health.v1.Health``) answers for SERVICE
  Where          this app's port (a request ``MS`` sleeps MS ms first): which pod answered

HEALTH (default ``SERVING``) is the status of the server ("") and of ``test.Echo`` at start.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

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


health_servicer = health.HealthServicer()


def set_health(request: bytes, context) -> bytes:
    service, _, status = request.decode().partition("=")
    health_servicer.set(service, health_pb2.HealthCheckResponse.ServingStatus.Value(status))
    return request


def where(request: bytes, context) -> bytes:
    if request:
        time.sleep(int(request) / 1000)
    return sys.argv[1].encode()


def main() -> None:
    port = int(sys.argv[1])
    initial = health_pb2.HealthCheckResponse.ServingStatus.Value(sys.argv[2] if len(sys.argv) > 2 else "SERVING")
    for service in ("", "test.Echo"):
        health_servicer.set(service, initial)
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
                    "SetHealth": grpc.unary_unary_rpc_method_handler(set_health),
                    "Where": grpc.unary_unary_rpc_method_handler(where),
                },
            ),
        )
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()

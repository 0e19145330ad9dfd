"""gRPC's Greeter (helloworld.Greeter/SayHello) on grpcio, serving h2c on $PORT.

The messages are helloworld.proto's, HelloRequest {string name = 1} and HelloReply
{string message = 1}, read and written in protobuf's wire format by hand so the
sample needs grpcio alone; any client built from that .proto can call it.
"""

from __future__ import annotations

import os
from concurrent import futures

import grpc


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string_field(data: bytes) -> str:
    """Field 1 (a string) of a message: the only field of both messages."""
    i = 0
    while i < len(data):
        key = data[i]
        i += 1
        length = shift = 0
        while True:  # every field of these messages is length-delimited
            byte = data[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if key == 0x0A:
            return data[i : i + length].decode()
        i += length
    return ""


def encode(text: str) -> bytes:
    raw = text.encode()
    return b"\x0a" + varint(len(raw)) + raw


def say_hello(request: bytes, context) -> bytes:
    return encode(f"Hello {string_field(request) or 'world'}, from {os.environ.get('K_REVISION', 'greeter')}")


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handler = grpc.method_handlers_generic_handler(
        "helloworld.Greeter", {"SayHello": grpc.unary_unary_rpc_method_handler(say_hello)}
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{os.environ.get('PORT', '50051')}")
    server.start()
    server.wait_for_termination()  # SIGTERM ends the process: the queue-proxy has drained by then


if __name__ == "__main__":
    main()

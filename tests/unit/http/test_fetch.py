"""The control links' small GET: real loopback servers that answer with raw bytes."""

from __future__ import annotations

import asyncio
import socket

import pytest

from dataplane.http import fetch as fetch_module
from dataplane.http.fetch import FetchError, fetch, split_url


async def raw_server(answer: bytes, close: bool = True):
    """A server that reads one request head, records it and writes ``answer``."""
    seen: list[bytes] = []
    server = None

    async def handle(reader, writer):
        try:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(answer)
            await writer.drain()
            if not close:
                await reader.read()  # silent until the client leaves
        finally:
            writer.close()  # else its transport is collected open, a warning in whichever test runs then
            server.handled.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    server.handled = asyncio.Event()
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", seen


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\": [1]}\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n7\r\n: [1]}\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n{\"a\": [1]}\n",  # to the close
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\": [1]}\n",
    ],
    ids=["length", "chunked", "until-close", "interim"],
)
async def test_every_framing_gives_the_whole_body(answer):
    server, url, seen = await raw_server(answer)
    async with server:
        reply = await fetch(url + "/v1/directory?version=3", timeout=5)
    assert (reply.status, reply.body) == (200, b'{"a": [1]}\n')
    port = url.rsplit(":", 1)[1]
    assert seen == [f"GET /v1/directory?version=3 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()]


async def test_an_error_status_is_a_reply_not_an_exception():
    server, url, _ = await raw_server(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
    async with server:
        reply = await fetch(url + "/x", timeout=5, headers=((b"Authorization", b"Bearer t"),))
    assert (reply.status, reply.body) == (503, b"busy")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde", "bad response"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "bad response"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunked body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "closed inside a chunked body"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "127.0.0.1"),
        (b"HTTP/1.1 200 O", "before a complete response head"),
    ],
)
async def test_a_malformed_or_cut_answer_is_a_fetch_error(answer, message):
    server, url, _ = await raw_server(answer)
    async with server:
        with pytest.raises(FetchError, match=message):
            await fetch(url + "/", timeout=5)


async def test_a_body_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(fetch_module, "MAX_BODY", 8)
    for answer in (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789", b"HTTP/1.1 200 OK\r\n\r\n123456789"):
        server, url, _ = await raw_server(answer)
        async with server:
            with pytest.raises(FetchError, match="over 8"):
                await fetch(url + "/", timeout=5)


async def test_a_refused_connection_fails_at_once_and_a_silent_server_times_out():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(FetchError, match=f"127.0.0.1:{port}"):
            await fetch(f"http://127.0.0.1:{port}/", timeout=5)
        assert loop.time() - start < 2
    server, url, _ = await raw_server(b"", close=False)
    async with server:
        with pytest.raises(TimeoutError):
            await fetch(url + "/", timeout=0.2)
        await asyncio.wait_for(server.handled.wait(), 5)  # the server saw the client leave and closed its side


@pytest.mark.parametrize("url", ["https://h/x", "ws://h/x", "h:80/x", "http:///x", "http://h:99999/x"])
def test_only_plain_http_urls_are_taken(url):
    with pytest.raises(FetchError, match="http://host"if "99999" not in url else "out of range"):
        split_url(url)


def test_urls_are_split_with_default_port_and_target():
    assert split_url("http://controller.ns.svc:8080/directory?a=1") == ("controller.ns.svc", 8080, b"/directory?a=1")
    assert split_url("http://h") == ("h", 80, b"/")

"""The HTTP/2 session over a real socket: an h2c echo server on each build, driven by curl and h2load."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.twins import load, twin_params

# curl and h2load (Debian's nghttp2-client) come with ./dev.sh setup


class EchoServer(asyncio.Protocol):
    """h2c with prior knowledge: answers each request with its method, path and body."""

    def __init__(self, module) -> None:
        self.session = module.Session(self)
        self.transport = None
        self.requests: dict[int, list] = {}
        self.pending: dict[int, bytes] = {}

    # -- transport side

    def connection_made(self, transport):
        self.transport = transport
        self.session.initiate()
        self.flush()

    def data_received(self, data):
        self.session.receive(data)
        self.flush()

    def flush(self):
        out = self.session.data_to_send()
        if out:
            self.transport.write(out)
        if self.session.closed:
            self.transport.close()

    # -- session side

    def on_headers(self, stream_id, headers):
        self.requests[stream_id] = [dict(headers), []]

    def on_data(self, stream_id, data):
        self.requests[stream_id][1].append(data)
        self.session.consumed(stream_id, len(data))

    def on_end(self, stream_id):
        head, chunks = self.requests.pop(stream_id)
        body = head[b":method"] + b" " + head[b":path"] + b"\n" + b"".join(chunks)
        self.session.send_headers(
            stream_id, [(b":status", b"200"), (b"content-length", str(len(body)).encode())]
        )
        self.pending[stream_id] = body
        self.send_pending(stream_id)

    def send_pending(self, stream_id):
        body = self.pending.get(stream_id)
        if body is None:
            return
        room = self.session.send_window(stream_id)
        if room >= len(body):
            del self.pending[stream_id]
            self.session.send_data(stream_id, body, end_stream=True)
        elif room:
            self.session.send_data(stream_id, body[:room])
            self.pending[stream_id] = body[room:]

    def on_window_update(self, stream_id):
        for sid in [stream_id] if stream_id else list(self.pending):
            self.send_pending(sid)

    def on_trailers(self, stream_id, headers):
        pass

    def on_reset(self, stream_id, error_code):
        self.requests.pop(stream_id, None)
        self.pending.pop(stream_id, None)

    def on_goaway(self, error_code, last_stream_id):
        pass

    def on_settings_acked(self):
        pass


@pytest.fixture(params=twin_params("dataplane.http._h2"))
async def server_port(request):
    module = load(request.param)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: EchoServer(module), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(errors="replace")


async def test_curl_with_prior_knowledge(server_port, tmp_path):
    # 200 KB up: more than the session's windows, so both directions wait on window updates
    (tmp_path / "body").write_bytes(b"ping" * 50000)
    url = f"http://127.0.0.1:{server_port}/hello?x=1"
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", "--data-binary", f"@{tmp_path / 'body'}", url)
    assert rc == 0, out
    assert out == "POST /hello?x=1\n" + "ping" * 50000
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url)
    assert (rc, out) == (0, "2 200")


async def test_h2load_all_succeed(server_port):
    rc, out = await run("h2load", "-n", "200", "-c", "2", "-m", "10", f"http://127.0.0.1:{server_port}/load")
    assert rc == 0, out
    found = re.search(r"requests: 200 total, 200 started, 200 done, (\d+) succeeded, (\d+) failed", out)
    assert found, out
    assert found.groups() == ("200", "0"), out

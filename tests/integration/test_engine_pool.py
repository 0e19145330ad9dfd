"""The upstream pool's connects against a real loopback server, on both builds: a bounded number
in progress, the rest in order, and none lost when the pool closes."""

from __future__ import annotations

import asyncio

import pytest

from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeTransport, ForwardAll

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture(params=twin_params("dataplane.http._engine"))
def engine(request):
    return load(request.param)


class Upstream:
    """A loopback server answering every request with 200 ``ok``; counts accepted connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.handlers: set[asyncio.Task] = set()

    async def start(self) -> Upstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.handlers.add(asyncio.current_task())
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        """After the pool closed its idle connections: each handler ends as its client left."""
        self.server.close()
        await asyncio.wait_for(asyncio.gather(*self.handlers), 5)
        await self.server.wait_closed()


@pytest.fixture
async def upstream():
    server = await Upstream().start()
    yield server
    await server.stop()


def requests(engine, port: int, n: int, max_connecting: int) -> tuple:
    """A pool for ``port`` and ``n`` client connections that each sent a GET through it:
    ``(pool, policy, [(conn, transport)])``."""
    loop = asyncio.get_running_loop()
    pool = engine.UpstreamPool(loop, "127.0.0.1", port, max_connecting=max_connecting)
    policy = ForwardAll(engine, pool)
    pairs = []
    for _ in range(n):
        conn = engine.ClientConnection(loop, policy, engine.EngineConfig())
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        conn.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        pairs.append((conn, transport))
    return pool, policy, pairs


async def until(predicate, what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


async def test_at_most_max_connecting_connects_at_once_and_every_request_is_served(engine, upstream):
    pool, policy, pairs = requests(engine, upstream.port, 20, max_connecting=3)
    assert pool.connecting == 3  # the other 17 wait their turn
    await until(lambda: len(policy.done) == 20, "20 answers")
    assert policy.done == [200] * 20 and pool.connecting == 0
    # connections freed by answered requests went to waiting clients: fewer connects than requests
    assert pool.connections_opened == upstream.accepted <= 20
    for conn, transport in pairs:
        assert transport.take().startswith(b"HTTP/1.1 200 OK")
        transport.lose()
    pool.close()


async def test_a_client_gone_before_its_turn_gets_no_connection(engine, upstream):
    pool, policy, pairs = requests(engine, upstream.port, 4, max_connecting=1)
    pairs[1][1].lose()  # waiting, then leaves
    pairs[2][1].lose()
    await until(lambda: len(policy.done) == 2, "the two remaining answers")
    await asyncio.sleep(0.05)
    assert policy.done == [200, 200] and policy.aborted == 2
    assert pool.connections_opened == 2 and upstream.accepted == 2 and pool.connecting == 0
    for i in (0, 3):
        pairs[i][1].lose()
    pool.close()


async def test_closing_the_pool_fails_every_pending_connect_as_retryable(engine, upstream):
    pool, policy, pairs = requests(engine, upstream.port, 6, max_connecting=2)
    pool.close()  # two connects in progress, four waiting
    assert policy.errors == []  # told on the next iteration, not inside close()
    await until(lambda: len(policy.done) == 6, "six answers")
    assert policy.done == [502] * 6
    assert [e for e in policy.events if e[0] == "upstream error"] == [
        ("upstream error", f"dial 127.0.0.1:{upstream.port}: connection pool closed", True)
    ] * 6
    for conn, transport in pairs:
        assert transport.take().startswith(b"HTTP/1.1 502 Bad Gateway")
        transport.lose()


async def test_refused_connects_free_their_places(engine):
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()  # nothing listens there now
    pool, policy, pairs = requests(engine, port, 7, max_connecting=2)
    await until(lambda: len(policy.done) == 7, "seven answers")
    assert policy.done == [502] * 7 and pool.connecting == 0
    errors = [e for e in policy.events if e[0] == "upstream error"]
    assert len(errors) == 7 and all(e[1].startswith(f"dial 127.0.0.1:{port}: ") and e[2] is True for e in errors)
    for _, transport in pairs:
        transport.lose()


async def test_a_connection_freed_by_a_finished_request_goes_to_a_client_waiting_for_a_connect_slot(engine, upstream):
    loop = asyncio.get_running_loop()
    pool = engine.UpstreamPool(loop, "127.0.0.1", upstream.port, max_connecting=1)
    policy = ForwardAll(engine, pool)
    # one kept-alive connection, busy with the first client's request
    kept = engine.UpstreamConnection(pool)
    kept_transport = FakeTransport()
    kept.connection_made(kept_transport)
    pool.give_back(kept)
    pairs = []
    for _ in range(3):
        conn = engine.ClientConnection(loop, policy, engine.EngineConfig())
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        conn.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        pairs.append((conn, transport))
    assert kept_transport.written.startswith(b"GET / HTTP/1.1\r\n")  # the first took the idle connection
    assert pool.connecting == 1  # the second is connecting; the third waits for a connect slot
    kept_transport.written.clear()
    kept.data_received(OK)  # the first is answered, in the same loop iteration
    assert policy.done == [200]
    # the third took the freed connection at once, instead of waiting for the second's connect to end
    assert kept_transport.written.startswith(b"GET / HTTP/1.1\r\n")
    kept.data_received(OK)
    await until(lambda: len(policy.done) == 3, "three answers")
    assert policy.done == [200, 200, 200]
    assert pool.connections_opened == 1 and upstream.accepted == 1 and pool.connecting == 0
    for _, transport in pairs:
        transport.lose()
    pool.close()

"""Socket-free stand-ins for driving either build of the engine: transports, a loop, a pool, a policy."""

from __future__ import annotations

import functools


class FakeTransport:
    """Records writes and flow-control calls; ``lose()`` delivers connection_lost as the loop would."""

    def __init__(self, peer=("10.1.2.3", 5555)):
        self.written = bytearray()
        self.writes = 0
        self.closed = False
        self.lost = False  # connection_lost was delivered
        self.aborted = False
        self.reading = True
        self.pauses = 0
        self.peer = peer
        self.protocol = None

    def write(self, data):
        assert not self.closed, "write after close"
        self.written += data
        self.writes += 1

    def close(self):
        # like uvloop: connection_lost comes later, from the loop; tests call lose()
        self.closed = True

    def lose(self, exc=None):
        self.closed = True
        if not self.lost:
            self.lost = True
            self.protocol.connection_lost(exc)

    def abort(self):
        self.aborted = True
        self.close()

    def pause_reading(self):
        self.reading = False
        self.pauses += 1

    def resume_reading(self):
        self.reading = True

    def get_extra_info(self, name, default=None):
        return self.peer if name == "peername" else default

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data


class FakeTimer:
    def __init__(self, when: float, callback, args):
        self._when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """What the engine asks of its loop (time, timers, error reports), on a clock the test moves."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.timers: list[FakeTimer] = []
        self.errors: list[dict] = []  # contexts given to call_exception_handler

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback, *args) -> FakeTimer:
        timer = FakeTimer(when, callback, args)
        self.timers.append(timer)
        return timer

    def call_exception_handler(self, context: dict) -> None:
        self.errors.append(context)

    def advance(self, seconds: float) -> None:
        """Move the clock, running the timers that come due on the way, in order."""
        end = self.now + seconds
        while True:
            self.timers = [t for t in self.timers if not t.cancelled]
            due = [t for t in self.timers if t.when() <= end]
            if not due:
                break
            timer = min(due, key=FakeTimer.when)
            self.timers.remove(timer)
            self.now = max(self.now, timer.when())
            timer.callback(*timer.args)
        self.now = end


@functools.cache
def fake_pool_type(engine):
    """A pool of ``engine`` that connects synchronously to fake upstream transports."""

    class FakePool(engine.UpstreamPool):
        def __init__(self, loop):
            super().__init__(loop, "127.0.0.1", 9999)
            self.opened = []
            self.refuse = False

        def connect(self, client):
            if self.refuse:
                client.connect_failed(self, ConnectionRefusedError(111, "Connection refused"))
                return
            conn = engine.UpstreamConnection(self)
            transport = FakeTransport()
            transport.protocol = conn
            conn.connection_made(transport)
            self.opened.append(conn)
            client.attach(conn, reused=False)

    return FakePool


class ForwardAll:
    """A minimal policy: every request goes to the pool unchanged but for the engine's own rules."""

    def __init__(self, engine, pool, timeout: float = 0.0):
        self.engine = engine
        self.pool = pool
        self.timeout = timeout
        self.events: list[tuple] = []
        self.done = []
        self.aborted = 0
        self.errors = []

    def connection_made(self, conn):
        pass

    def connection_lost(self, conn):
        self.events.append(("lost",))

    def on_request(self, conn, head):
        self.events.append(("request", head.method, head.target))
        if self.timeout:
            conn.set_timeouts(self.timeout)
        conn.forward(self.pool, self.engine.request_head(head, {}, head.upgrade, b"app"))

    def on_admitted(self, conn):
        pass

    def on_response_start(self, conn, status):
        self.events.append(("start", status))

    def on_done(self, conn):
        self.events.append(("done", conn.status))
        self.done.append(conn.status)

    def on_abort(self, conn):
        self.events.append(("abort",))
        self.aborted += 1

    def on_rejected(self, conn, status):
        self.events.append(("rejected", status))
        self.done.append(status)

    def on_upstream_error(self, conn, reason, retryable):
        self.events.append(("upstream error", reason, retryable))
        self.errors.append(reason)
        conn.fail(502, reason)

    def on_timeout(self, conn):
        self.events.append(("timeout",))
        conn.fail(504, "request timeout")

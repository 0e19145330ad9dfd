"""free_port never hands out the same port twice in a row of calls, from any thread."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

from dataplane import ports


def test_ports_handed_out_are_distinct_and_bindable():
    got = [ports.free_port() for _ in range(300)]
    assert len(set(got)) == 300
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", got[-1]))  # nothing took it meanwhile


def test_threads_starting_pods_at_once_get_distinct_ports():
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda _: ports.free_port(), range(400)))
    assert len(set(got)) == 400


def test_a_port_the_kernel_gives_again_is_skipped(monkeypatch):
    # a kernel that hands out 40001 twice, then 40002
    answers = iter([40001, 40001, 40002])

    class FakeSocket:
        def __init__(self, *args):
            self.port = next(answers)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            pass

        def getsockname(self):
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(ports, "_recent", type(ports._recent)())
    monkeypatch.setattr(ports.socket, "socket", FakeSocket)
    assert [ports.free_port(), ports.free_port()] == [40001, 40002]

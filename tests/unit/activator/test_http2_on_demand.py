"""The activator carries HTTP/2's session only once a client speaks HTTP/2 (about 1.3 MB resident otherwise)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, sys
import dataplane.cmd.activator, dataplane.activator.policy, dataplane.activator.state
from dataplane.http.engine import EngineConfig
from dataplane.http.server import http2_on_demand

HEAVY = ("dataplane.http.h2session", "dataplane.http.h2downstream", "dataplane.http.h2upstream", "h2")
print(sorted(m for m in HEAVY if m in sys.modules))

class Transport:
    protocol = None
    def set_protocol(self, protocol): self.protocol = protocol
    def get_extra_info(self, name, default=None): return ("10.0.0.1", 1) if name == "peername" else default
    def write(self, data): pass
    def close(self): pass

class Policy:
    def connection_made(self, conn): pass

loop = asyncio.new_event_loop()
take_over = http2_on_demand(loop, Policy(), EngineConfig())
print(sorted(m for m in HEAVY if m in sys.modules))
transport = Transport()
take_over(transport, b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n")
print(type(transport.protocol).__name__, "dataplane.http.h2session" in sys.modules)
loop.close()
"""


def test_the_http2_protocol_is_loaded_at_the_first_http2_connection():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines() == ["[]", "[]", "H2ServerConnection True"], out.stdout + out.stderr


def test_a_pods_h2c_pool_is_made_at_its_first_http2_stream_and_closed_with_it():
    from dataplane.activator.state import ActivatorState, close_pools
    from dataplane.activator.throttler import PodTracker, QueueLimits
    from tests.unit.engine.fakes import FakeLoop

    closed = []

    class Pool:
        def close(self):
            closed.append("http1")

    state = ActivatorState(FakeLoop(), QueueLimits(), probe_interval=1.0, probe_timeout=1.0)
    pod = PodTracker("hello-00001-pod", "10.0.0.9:8012", Pool())
    assert pod.h2_pool is None  # HTTP/1.1 only so far
    pool = state.h2_pool(pod)
    assert (pool.host, pool.port) == ("10.0.0.9", 8012) and state.h2_pool(pod) is pool  # one per pod, kept
    pool.close = lambda: closed.append("h2c")
    close_pools(pod)
    assert closed == ["http1", "h2c"]

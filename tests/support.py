"""Helpers for integration tests: free ports, real processes, raw HTTP on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dataplane.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
TESTAPP = ROOT / "tests" / "apps" / "testapp.py"


def wait_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class Proc:
    """A child process that is always stopped and reaped."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, port: int | None = None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(args, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.port = port
        if port is not None:
            try:
                wait_port(port, proc=self.popen)
            except Exception:
                self.stop()
                raise

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def output(self) -> str:
        return self.popen.stdout.read().decode(errors="replace") if self.popen.stdout else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        if self.popen.stdout:
            self.popen.stdout.close()


def start_testapp(port: int | None = None) -> Proc:
    port = port or free_port()
    return Proc([sys.executable, str(TESTAPP), str(port)], port=port)


def dataplane_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dataplane", *args]


async def raw_exchange(port: int, data: bytes, timeout: float = 5.0, until_close: bool = True) -> bytes:
    """Send ``data`` and return everything the server sends until it closes (or ``timeout``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except asyncio.TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not until_close:
                break
        return b"".join(chunks)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


class Pod:
    """A user app and its queue-proxy, as the local runtime runs them."""

    def __init__(self, app: Proc, qp: Proc, ports: dict[str, int]):
        self.app = app
        self.qp = qp
        self.ports = ports
        self.url = f"http://127.0.0.1:{ports['serving']}"

    @property
    def port(self) -> int:
        return self.ports["serving"]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.qp.stop()
        self.app.stop()


def queue_proxy_env(app_port: int) -> tuple[dict[str, int], dict[str, str]]:
    """Free ports for a test queue-proxy, and its environment in front of an app on ``app_port``."""
    ports = {name: free_port() for name in ("serving", "admin", "stats", "metrics")}
    return ports, {
        "CONTAINER_CONCURRENCY": "0",
        "QUEUE_SERVING_PORT": str(ports["serving"]),
        "QUEUE_ADMIN_PORT": str(ports["admin"]),
        "QUEUE_STATS_PORT": str(ports["stats"]),
        "QUEUE_METRICS_PORT": str(ports["metrics"]),
        "QUEUE_BIND_ADDRESS": "127.0.0.1",
        "USER_PORT": str(app_port),
        "REVISION_TIMEOUT_SECONDS": "30",
        "SERVING_NAMESPACE": "default",
        "SERVING_CONFIGURATION": "hello",
        "SERVING_REVISION": "hello-00001",
        "SERVING_POD": "hello-00001-pod",
        "SERVING_POD_IP": "127.0.0.1",
    }


def start_pod(**env: str) -> Pod:
    """Start the test app behind a queue-proxy; ``env`` overrides the queue-proxy's environment."""
    app = start_testapp()
    ports, base = queue_proxy_env(app.port)
    base.update(env)
    try:
        qp = Proc(dataplane_cmd("queue-proxy"), env=base, port=ports["serving"])
    except Exception:
        app.stop()
        raise
    return Pod(app, qp, ports)

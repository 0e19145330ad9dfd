"""Fixtures shared by the Kubernetes backend's tests: the fake API server and a client of it."""

from __future__ import annotations

import asyncio
import time

import pytest_asyncio
from kubernetes_asyncio.client import ApiClient, Configuration

from dataplane.platform.kubernetes.client import KubeClient
from tests.unit.kubernetes.fakeapi import FakeApiServer


@pytest_asyncio.fixture
async def fake():
    server = await FakeApiServer().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def kube(fake):
    configuration = Configuration(host=fake.url)
    async with ApiClient(configuration) as api:
        yield KubeClient(api, timeout=5.0)


async def eventually(check, timeout: float = 5.0, interval: float = 0.02):
    """Poll ``check()`` (sync or async) until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")

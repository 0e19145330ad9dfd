"""The gRPC sample under a real `dataplane up`: called through the router with the README's lines, from zero.

Slow (compiled build only, as every `dataplane up` test): it starts the whole platform and waits for a scale
to zero; the engine paths it drives (router → queue-proxy → app, all HTTP/2) run on both builds in
test_activator_h2.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_walkthrough import FAST_SCALING, Up

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "grpc-greeter"
README = ROOT / "README.md"

pytestmark = pytest.mark.slow


def readme_client(port: int) -> str:
    """The README's grpcio lines (its HTTP/2 section), aimed at this router's port."""
    section = README.read_text()
    section = section[section.index("### HTTP/2") :]
    section = section[: section.index("\n## ", 1)]
    [code] = [block for block in re.findall(r"```python\n(.*?)```", section, re.S) if "grpc.default_authority" in block]
    assert "127.0.0.1:8080" in code
    return code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")


@pytest.fixture
def up(tmp_path, monkeypatch):
    # the sample's `python3` is the one the tests run on, which has grpcio (as with `. .venv/bin/activate`)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    u = Up(tmp_path)
    u.start(["dataplane", "up"], "up")
    yield u
    u.stop()


async def test_the_grpc_sample_wakes_from_zero_on_a_call_through_the_router(up):
    shutil.copytree(SAMPLE, up.workdir)
    (up.workdir / "config.yaml").write_text(FAST_SCALING)
    assert (await asyncio.to_thread(up.dataplane, "apply", "-f", "config.yaml"))[0] == 0
    rc, shown = await asyncio.to_thread(up.dataplane, "apply", "-f", "service.yaml")
    assert rc == 0 and "service/greeter is ready at http://greeter.default.example.com" in shown, shown
    # idle: scaled to zero, its pod gone
    deadline = time.monotonic() + 60
    while await asyncio.to_thread(up.pod_names):
        assert time.monotonic() < deadline, up.output()
        await asyncio.sleep(0.5)
    # the call waits in the router while a pod starts, then is answered
    client = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", readme_client(up.port)], capture_output=True, text=True, timeout=90
    )
    assert (client.returncode, client.stdout) == (0, "Hello world, from greeter-00001\n"), client.stderr + up.output()
    assert len(await asyncio.to_thread(up.pod_names)) == 1
    assert "scale greeter-00001: desired 1, ready 0" in up.output()

"""`dataplane up` prints one line per event on stdout (pods, scale decisions, cold starts); `-q` prints none."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys

import aiohttp
import pytest

from dataplane.platform.local.home import read_token
from loadtests._scenario_api import ControlApi
from tests.integration.test_reliability_support import autoscaler_config, host_of, http_get, recorder_service
from tests.support import free_port, wait_port

pytestmark = pytest.mark.slow
EVENT = re.compile(r"^\d\d:\d\d:\d\d (pod|scale|cold start|shed) ")


async def run_up(tmp_path, quiet: bool) -> list[str]:
    """Start `dataplane up`, apply a service, let it go to zero, wake it with a request; the lines it printed."""
    port, api_port = free_port(), free_port()
    out = tmp_path / "up.out"
    argv = [sys.executable, "-m", "dataplane", "up", "--port", str(port), "--api-port", str(api_port), "--home", str(tmp_path / "home")]
    with open(out, "wb") as stdout:
        proc = subprocess.Popen(argv + (["-q"] if quiet else []), stdout=stdout, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_port(api_port, timeout=30, proc=proc)
        wait_port(port, timeout=30, proc=proc)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            api = ControlApi(f"http://127.0.0.1:{api_port}", session, read_token(tmp_path / "home"))
            await api.apply([autoscaler_config(), recorder_service("web", tmp_path / "requests.log")])
            await api.wait_service_ready("web")
            await api.wait_pods("web-00001", 0, timeout=60)
            answer = await http_get(port, "/?id=wake", host_of("web"), timeout=60)
            assert answer.status == 200, answer
            await asyncio.sleep(2.5)  # the activator reports once a second
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return out.read_text().splitlines()


async def test_up_prints_pod_scale_and_cold_start_lines(tmp_path):
    lines = await run_up(tmp_path, quiet=False)
    shown = "\n".join(lines)
    pod = r"web-00001-deployment-[0-9a-z]+-[0-9a-z]{5}"
    assert len([line for line in lines if re.fullmatch(rf"\d\d:\d\d:\d\d pod {pod} started", line)]) >= 2, shown
    assert len([line for line in lines if re.fullmatch(rf"\d\d:\d\d:\d\d pod {pod} ready \(\d+\.\d s\)", line)]) >= 2, shown
    assert any(re.fullmatch(rf"\d\d:\d\d:\d\d pod {pod} stopped: scaled down \(drained\)", line) for line in lines), shown
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d scale web-00001: desired 0, ready \d+, panic off", line) for line in lines), shown
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d cold start web-00001: waited \d+\.\d s \(1 request\)", line) for line in lines), shown
    assert any(re.fullmatch(rf"\d\d:\d\d:\d\d pod {pod} stopped: dataplane up stopping \(drained\)", line) for line in lines), shown


async def test_quiet_up_prints_no_event_lines(tmp_path):
    lines = await run_up(tmp_path, quiet=True)
    assert [line for line in lines if EVENT.match(line)] == []
    assert any(line.startswith("dataplane is up:") for line in lines), lines

"""The seed article's walkthrough, command for command, against a real `dataplane up`.

`kubectl` becomes `dataplane`, the container gets `command: [node, index.js]`,
and the router listens on a free port instead of 80. Windows are shortened by
config-autoscaler so that scaling to zero takes seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.seed import LISTING_1, LISTING_2, SAMPLE
from tests.support import Proc, free_port, wait_port

HOST = "knative-example.default.example.com"

pytestmark = pytest.mark.slow


FAST_SCALING = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
  namespace: knative-serving
data:
  stable-window: "6s"
  scale-to-zero-grace-period: "1s"
"""


class Up:
    def __init__(self, tmp: Path):
        self.workdir = tmp / "app"
        self.workdir.mkdir()
        shutil.copy(SAMPLE / "index.js", self.workdir / "index.js")
        self.port, self.api_port = free_port(), free_port()
        # the CLI finds the server's token where `dataplane up --home` wrote it
        self.env = dict(os.environ, DATAPLANE_SERVER=f"http://127.0.0.1:{self.api_port}", DATAPLANE_HOME=str(tmp / "home"))
        self.proc = Proc(
            [
                sys.executable,
                "-m",
                "dataplane",
                "up",
                "--port",
                str(self.port),
                "--api-port",
                str(self.api_port),
                "--home",
                str(tmp / "home"),
            ],
            port=self.api_port,
        )
        wait_port(self.port, proc=self.proc.popen)

    def dataplane(self, *args: str, check: bool = True) -> str:
        """Run a `dataplane` command as the article runs `kubectl`, in the app's directory."""
        done = subprocess.run(
            [sys.executable, "-m", "dataplane", *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and done.returncode != 0:
            raise AssertionError(f"dataplane {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def write(self, name: str, text: str) -> None:
        (self.workdir / name).write_text(text)

    async def curl(self, session: aiohttp.ClientSession) -> str:
        async with session.get(f"http://127.0.0.1:{self.port}/", headers={"Host": HOST}) as r:
            assert r.status == 200, await r.text()
            return await r.text()

    def pod_names(self) -> list[str]:
        out = self.dataplane("get", "pods")
        return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]

    async def wait_until(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(check):
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self) -> None:
        self.proc.signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        finally:
            self.proc.stop()


@pytest.fixture
def up(tmp_path):
    u = Up(tmp_path)
    yield u
    u.stop()


async def test_seed_walkthrough(up):
    up.write("config.yaml", FAST_SCALING)
    up.dataplane("apply", "-f", "config.yaml")
    up.write("app.yaml", LISTING_1)
    assert up.dataplane("apply", "-f", "app.yaml").strip() == "service.serving.knative.dev/knative-example created"

    assert up.dataplane("get", "configuration").splitlines()[1].split()[0] == "knative-example"
    assert up.dataplane("get", "revision").splitlines()[1].split()[0] == "knative-example-00001"
    assert up.dataplane("get", "replicaset").splitlines()[1].startswith("knative-example-00001-deployment-")
    assert up.dataplane("get", "route").splitlines()[1].split()[0] == "knative-example"
    pods = up.dataplane("get", "pods").splitlines()
    assert pods[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1].startswith("knative-example-00001-deployment-") and "Running" in pods[1]
    assert up.dataplane("get", "route", "knative-example", "-ojsonpath={.status.domain}").strip() == HOST
    ingress = up.dataplane("get", "svc", "knative-ingressgateway", "-n", "istio-system", "-ojsonpath={.status.loadBalancer.ingress[*].ip}")
    assert ingress.strip() == "127.0.0.1"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
        assert await up.curl(s) == "Hello World!"
        first_pod = up.pod_names()[0]

        # scaling to 0: no requests for a (shortened) stable window plus grace
        await up.wait_until("scale to zero", lambda: up.dataplane("get", "pods").startswith("No resources found"), 60)

        # scaling from 0: the next request brings a fresh pod and is answered
        assert await up.curl(s) == "Hello World!"
        pods = up.pod_names()
        assert len(pods) == 1 and pods[0] != first_pod

        # scaling above 1 and updating the service
        up.write("app.yaml", LISTING_2)
        assert up.dataplane("apply", "-f", "app.yaml").strip() == "service.serving.knative.dev/knative-example configured"
        revisions = up.dataplane("get", "revision")
        assert "knative-example-00002" in revisions
        answers = await asyncio.gather(*(up.curl(s) for _ in range(20)))
        assert Counter(answers) == {"Hello World!": 20}
        pods = [p for p in up.pod_names() if p.startswith("knative-example-00002-")]
        assert len(pods) >= 3, pods  # several pods for 20 requests at containerConcurrency 1

        # and back to zero once the load is gone
        await up.wait_until("scale to zero again", lambda: up.dataplane("get", "pods").startswith("No resources found"), 90)


SPLIT = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: split
spec:
  template:
    metadata:
      name: split-{suffix}
      annotations:
        autoscaling.knative.dev/min-scale: "1"
    spec:
      containers:
        - command: [node, -e, "require('http').createServer((q, r) => r.end('{suffix}')).listen(process.env.PORT)"]
  traffic:
{traffic}
"""


async def test_traffic_split_and_tags(up):
    up.write("v1.yaml", SPLIT.format(suffix="one", traffic="    - latestRevision: true\n      percent: 100"))
    up.dataplane("apply", "-f", "v1.yaml")
    traffic = (
        "    - revisionName: split-one\n      percent: 50\n      tag: one\n    - latestRevision: true\n      percent: 50\n      tag: two"
    )
    up.write("v2.yaml", SPLIT.format(suffix="two", traffic=traffic))
    up.dataplane("apply", "-f", "v2.yaml")
    async with aiohttp.ClientSession() as s:

        async def get(host: str) -> str:
            async with s.get(f"http://127.0.0.1:{up.port}/", headers={"Host": host}) as r:
                assert r.status == 200
                return await r.text()

        counts = Counter([await get("split.default.example.com") for _ in range(200)])
        assert abs(counts["one"] - 100) <= 10 and abs(counts["two"] - 100) <= 10, counts
        assert {await get("one-split.default.example.com") for _ in range(5)} == {"one"}
        assert {await get("two-split.default.example.com") for _ in range(5)} == {"two"}

"""The seed article's walkthrough, as the README tells it, against a real `dataplane up`.

The commands and the output they must show are read from the README's walkthrough section, so the two
cannot drift; the prose between its blocks (wait, 20 parallel requests, restart) is done here. The router
listens on a free port instead of 8080, and config-autoscaler shortens the windows (as the README's
paragraph on platform settings says) so that scaling to zero takes seconds.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.seed import SAMPLE
from tests.support import free_port, wait_port

HOST = "knative-example.default.example.com"
README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## The seed article's walkthrough, locally"
GET_TIMEOUT = 90.0
"""Seconds a `get` is retried until it shows what the README says (scaling to zero is one of its waits)."""

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


@dataclass
class Step:
    """One `$ command` of the README and the lines shown after it."""

    command: str
    expected: list[str] = field(default_factory=list)


def walkthrough_blocks(text: str) -> list[list[Step]]:
    """The ```sh blocks of the README's walkthrough section, in order."""
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", 1)]
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", section, re.S):
        steps: list[Step] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:]))
            else:
                steps[-1].expected.append(line)
        blocks.append(steps)
    return blocks


# What differs from run to run: the ReplicaSet's template hash, a pod's random suffix, ages.
VARIABLE = (
    (re.compile(r"-deployment-[0-9a-z]+-[0-9a-z]{5}\b"), "-deployment-HASH-POD"),
    (re.compile(r"-deployment-[0-9a-z]+\b"), "-deployment-HASH"),
    (re.compile(r"(?<=\s)\d+[smhd](\d+[smhd])?(?=\s|$)"), "AGE"),
)


def normal(lines: list[str]) -> list[str]:
    """Lines with variable parts replaced and column padding collapsed."""
    out = []
    for line in lines:
        for pattern, replacement in VARIABLE:
            line = pattern.sub(replacement, line)
        out.append(" ".join(line.split()))
    return out


def test_normal_form_keeps_what_matters():
    assert normal(["knative-example-00001-deployment-431fc595a-tdda2   2/2     Running   0          5s"]) == normal(
        ["knative-example-00001-deployment-9f00aa17b-x0x0x   2/2 Running 0 1m12s"]
    )
    assert normal(["knative-example-00001   knative-example   1   True   1   1"]) != normal(["knative-example-00001 knative-example 1 True 0 0"])
    assert normal(["knative-example-00002-deployment-431fc595a   1   1   1   4s"]) != normal(["knative-example-00003-deployment-431fc595a 1 1 1 4s"])


class Up:
    """`dataplane up` (or `./dev.sh up`'s program) on free ports in one home, output to a file."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.workdir = tmp / "app"
        self.home = tmp / "home"
        self.port, self.api_port = free_port(), free_port()
        # the CLI finds the server's token where `dataplane up --home` wrote it
        self.env = dict(os.environ, DATAPLANE_SERVER=f"http://127.0.0.1:{self.api_port}", DATAPLANE_HOME=str(self.home))
        self.proc: subprocess.Popen | None = None
        self.log: Path | None = None

    def start(self, program: list[str], name: str) -> None:
        self.log = self.tmp / f"{name}.log"
        argv = [sys.executable, "-m", *program, "--port", str(self.port), "--api-port", str(self.api_port), "--home", str(self.home)]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_port(self.api_port, timeout=30, proc=self.proc)
        wait_port(self.port, timeout=30, proc=self.proc)

    def write(self, name: str, text: str) -> None:
        self.workdir.mkdir(exist_ok=True)
        (self.workdir / name).write_text(text)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def dataplane(self, *args: str) -> tuple[int, list[str]]:
        """Run a `dataplane` command in the app's directory; its exit code and what a terminal shows.

        On a terminal `apply`'s "waiting for" line is rewritten in place and cleared, so it is left out.
        """
        done = subprocess.run(
            [sys.executable, "-m", "dataplane", *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120
        )
        shown = done.stdout.splitlines() + [line for line in done.stderr.splitlines() if not line.startswith("waiting for ")]
        return done.returncode, shown

    async def curl(self, session: aiohttp.ClientSession, words: list[str]) -> list[str]:
        """`curl -H "Host: ..." 127.0.0.1:8080` of the README, sent to this router's port."""
        headers = {}
        args = iter(words[1:])
        url = None
        for word in args:
            if word == "-H":
                name, _, value = next(args).partition(":")
                headers[name.strip()] = value.strip()
            elif word == "-s":
                continue
            else:
                url = word
        assert url is not None and url.split("/")[0].startswith("127.0.0.1"), words
        async with session.get(f"http://127.0.0.1:{self.port}/", headers=headers) as r:
            return (await r.text()).splitlines()

    async def run_block(self, session: aiohttp.ClientSession, block: list[Step]) -> None:
        """Each command of a README block must show the README's output (a `get` is retried until it does)."""
        for step in block:
            words = shlex.split(step.command)
            want = normal(step.expected)
            if words[0] == "curl":
                shown = await self.curl(session, words)
                assert normal(shown) == want, f"$ {step.command}\n" + "\n".join(shown)
                continue
            assert words[0] == "dataplane", f"the README's walkthrough runs only dataplane and curl: {step.command}"
            deadline = time.monotonic() + (GET_TIMEOUT if words[1] == "get" else 0)
            while True:
                rc, shown = await asyncio.to_thread(self.dataplane, *words[1:])
                if rc == 0 and normal(shown) == want:
                    break
                if time.monotonic() >= deadline:
                    raise AssertionError(f"$ {step.command}\nexit code {rc}, shown:\n" + "\n".join(shown) + "\nREADME:\n" + "\n".join(step.expected))
                await asyncio.sleep(0.5)

    def pod_names(self) -> list[str]:
        _, shown = self.dataplane("get", "pods")
        return [line.split()[0] for line in shown[1:] if line.strip() and not line.startswith("No resources")]


@pytest.fixture
def up(tmp_path):
    u = Up(tmp_path)
    u.start(["dataplane", "up"], "up")
    yield u
    u.stop()


async def test_seed_walkthrough(up):
    blocks = walkthrough_blocks(README.read_text())
    firsts = [b[0].command for b in blocks]
    assert firsts == [
        "dataplane apply -f app.yaml",
        "dataplane get pods",
        "dataplane apply -f app-cc1.yaml",
        "dataplane get pods",
        "dataplane get revision",
    ], f"the README's walkthrough changed its steps; follow it here too: {firsts}"
    shutil.copytree(SAMPLE, up.workdir)  # "in a copy of samples/knative-example"
    (up.workdir / "config.yaml").write_text(FAST_SCALING)
    assert up.dataplane("apply", "-f", "config.yaml")[0] == 0

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
        await up.run_block(s, blocks[0])
        first_pod = up.pod_names()
        assert len(first_pod) == 1

        # to zero, then a fresh pod for the next request
        await up.run_block(s, blocks[1])
        pods = up.pod_names()
        assert len(pods) == 1 and pods != first_pod

        # Listing 2: a second revision takes the traffic
        await up.run_block(s, blocks[2])
        async with s.get(f"http://127.0.0.1:{up.port}/", headers={"Host": HOST}) as r:
            assert r.status == 200  # 00002 has its pod, 00001 is left to scale down

        async def get() -> str:
            async with s.get(f"http://127.0.0.1:{up.port}/", headers={"Host": HOST}) as r:
                assert r.status == 200, await r.text()
                return await r.text()

        # "20 parallel curls then spread over several knative-example-00002 pods"
        answers = await asyncio.gather(*(get() for _ in range(20)))
        assert Counter(answers) == {"Hello World!": 20}
        pods = [p for p in up.pod_names() if p.startswith("knative-example-00002-")]
        assert len(pods) >= 3, pods

        # "... and a minute or so after the last one everything is back at zero"
        await up.run_block(s, blocks[3])

        # "Stop `dataplane up` ... or run `./dev.sh up`": its program, on the same home
        up.stop()
        up.start(["dataplane.cmd.demo"], "dev-up")
        await up.run_block(s, blocks[4])
        shown = up.output()
        assert "service.serving.knative.dev/knative-example exists (kept as it is)" in shown, shown
        assert "knative-example configured" not in shown and "knative-example created" not in shown, shown


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
    assert up.dataplane("apply", "-f", "v1.yaml")[0] == 0
    traffic = (
        "    - revisionName: split-one\n      percent: 50\n      tag: one\n    - latestRevision: true\n      percent: 50\n      tag: two"
    )
    up.write("v2.yaml", SPLIT.format(suffix="two", traffic=traffic))
    assert up.dataplane("apply", "-f", "v2.yaml")[0] == 0
    async with aiohttp.ClientSession() as s:

        async def get(host: str) -> str:
            async with s.get(f"http://127.0.0.1:{up.port}/", headers={"Host": host}) as r:
                assert r.status == 200
                return await r.text()

        counts = Counter([await get("split.default.example.com") for _ in range(200)])
        assert abs(counts["one"] - 100) <= 10 and abs(counts["two"] - 100) <= 10, counts
        assert {await get("one-split.default.example.com") for _ in range(5)} == {"one"}
        assert {await get("two-split.default.example.com") for _ in range(5)} == {"two"}

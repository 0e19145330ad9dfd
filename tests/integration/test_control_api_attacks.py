"""A web page attacking a real `dataplane up`: every request a browser could send is refused and nothing is applied.

The attacker's page can POST with the CORS "simple" content types (no preflight), DELETE only
after a preflight that is never granted, open WebSockets anywhere, and rebind its own name to
127.0.0.1 to read answers. Each attack below is sent as the browser would send it, and the state
is checked afterwards: no Service, no pod, no file written by the Service's command, no stat
counted. The CLI, which holds the token, still works.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from dataplane.stats.wire import Stat, WireStatMessage, encode_messages
from dataplane.ports import free_port
from loadtests._scenario_install import LocalInstall, cmdline, descendants, environ
from tests.integration.fakes import DirectoryServer
from tests.integration.test_reliability_support import host_of, recorder_service
from tests.support import Proc, dataplane_cmd

EVIL = "http://evil.example.com"


class Api:
    """Raw requests to the control API, headers exactly as given (as a browser or attacker would send them)."""

    def __init__(self, install: LocalInstall):
        self.install = install
        self.port = install.api_port

    @property
    def token(self) -> str:
        token = self.install.token()
        assert token, "dataplane up wrote no token"
        return token

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, {"raw": raw.decode(errors="replace")}

    def applied(self, body: dict) -> tuple[int, dict]:
        """Apply as the CLI does: JSON and the token."""
        return self.call("POST", "/v1/apply", json.dumps(body).encode(), {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})

    def exists(self, resource: str, namespace: str, name: str) -> bool:
        status, body = self.call("GET", f"/v1/{resource}/{namespace}/{name}")
        assert status in (200, 404), body
        return status == 200

    def pods(self) -> list[dict]:
        status, body = self.call("GET", "/v1/pods?allNamespaces=1")
        assert status == 200, body
        return body["items"]

    def counter(self, name: str) -> float:
        status, body = self.call("GET", "/autoscaler/metrics")
        assert status == 200, body
        for line in body["raw"].splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"no {name} in the autoscaler's metrics")


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacked")
    install = LocalInstall(tmp / "home", tmp / "up.log")
    install.start()
    try:
        yield Api(install)
    finally:
        install.stop()


def evil_service(name: str, marker: Path) -> dict:
    """A Service whose command proves it ran by creating ``marker``."""
    container = {"image": "x", "command": ["sh", "-c", f"touch {marker}; exec sleep 60"]}
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [container]}}}}  # fmt: skip


def assert_nothing_ran(up: Api, name: str, marker: Path) -> None:
    # an accepted Service is stored before the answer and its pod starts within a second or two
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert not marker.exists(), "the Service's command ran"
        time.sleep(0.1)
    assert not up.exists("services", "default", name)
    assert not up.exists("configurations", "default", name)
    assert not [p for p in up.pods() if p["metadata"]["name"].startswith(name)]


def test_text_plain_post_from_a_page_runs_nothing(up, tmp_path):
    """The attack of the issue: a no-preflight POST (text/plain), as `fetch(..., {mode: "no-cors"})` sends it."""
    marker = tmp_path / "pwned"
    body = json.dumps({"documents": [evil_service("evil-plain", marker)]}).encode()
    status, answer = up.call("POST", "/v1/apply", body, {"Content-Type": "text/plain;charset=UTF-8", "Origin": EVIL})
    assert status == 403, answer
    # without the Origin (a page cannot do that, but curl can): still no token, and not JSON
    status, answer = up.call("POST", "/v1/apply", body, {"Content-Type": "text/plain"})
    assert status == 401 and "api-token" in answer["error"], answer
    status, answer = up.call("POST", "/v1/apply", body, {"Content-Type": "text/plain", "Authorization": f"Bearer {up.token}"})
    assert status == 415, answer
    assert_nothing_ran(up, "evil-plain", marker)


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": EVIL}, 403),
    ({"Origin": "null"}, 403),
    ({"Host": "evil.example.com:8081"}, 421),
    ({"Authorization": None}, 401),
    ({"Authorization": "Bearer not-the-token"}, 401),
], ids=["foreign-origin", "null-origin", "rebinding-host", "no-token", "wrong-token"])  # fmt: skip
def test_json_apply_refused(up, tmp_path, headers, status):
    marker = tmp_path / "pwned"
    body = json.dumps({"documents": [evil_service("evil-json", marker)]}).encode()
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {up.token}", **headers}
    got, answer = up.call("POST", "/v1/apply", body, {k: v for k, v in sent.items() if v is not None})
    assert got == status, answer
    assert answer["error"]
    assert_nothing_ran(up, "evil-json", marker)


def test_rebinding_page_cannot_read(up):
    status, answer = up.call("GET", "/v1/services?allNamespaces=1", headers={"Host": f"evil.example.com:{up.port}"})
    assert status == 421 and "evil.example.com" in answer["error"], answer
    status, answer = up.call("GET", "/autoscaler/revisions", headers={"Host": f"evil.example.com:{up.port}"})
    assert status == 421, answer
    assert up.call("GET", "/v1/services?allNamespaces=1")[0] == 200


def test_delete_from_a_page_or_without_the_token_leaves_the_object(up):
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep-me", "namespace": "default"}, "data": {"k": "v"}}
    status, answer = up.applied({"documents": [doc]})
    assert status == 200, answer
    target = "/v1/configmaps/default/keep-me"
    attempts = [
        {"Origin": EVIL, "Authorization": f"Bearer {up.token}"},
        {},
        {"Authorization": "Bearer stale"},
        {"Host": "evil.example.com:8081", "Authorization": f"Bearer {up.token}"},
    ]
    for headers in attempts:
        status, answer = up.call("DELETE", target, headers=headers)
        assert status in (401, 403, 421), (headers, status, answer)
        assert up.exists("configmaps", "default", "keep-me"), headers
    status, answer = up.call("DELETE", target, headers={"Authorization": f"Bearer {up.token}"})
    assert status == 200, answer
    assert not up.exists("configmaps", "default", "keep-me")


def test_preflight_is_never_granted(up):
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization"}
    conn = http.client.HTTPConnection("127.0.0.1", up.port, timeout=10)
    try:
        conn.request("OPTIONS", "/v1/configmaps/default/x", headers=headers)
        resp = conn.getresponse()
        resp.read()
    finally:
        conn.close()
    assert resp.status == 403  # refused for its Origin, before any route is looked at
    assert not [h for h, _ in resp.getheaders() if h.lower().startswith("access-control-")]


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": EVIL}, 403),
    ({"Origin": EVIL, "Authorization": "token"}, 403),
    ({}, 401),
], ids=["page", "page-with-token", "no-token"])  # fmt: skip
async def test_stat_websocket_takes_no_invented_load(up, headers, status):
    """Browsers apply no same-origin rule to WebSockets: a page could otherwise scale every Service up."""
    if headers.get("Authorization") == "token":
        headers = {**headers, "Authorization": f"Bearer {up.token}"}
    frame = encode_messages([WireStatMessage("default", "ghost", Stat(pod_name="page", average_concurrent_requests=1000.0))])
    before = up.counter("autoscaler_stats_unknown_revision_count") + up.counter("autoscaler_stat_frames_rejected_count")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with session.ws_connect(f"ws://127.0.0.1:{up.port}/autoscaler/stats", headers=headers) as ws:
                await ws.send_bytes(frame)
                await ws.close()
    assert refused.value.status == status
    after = up.counter("autoscaler_stats_unknown_revision_count") + up.counter("autoscaler_stat_frames_rejected_count")
    assert after == before


def test_token_file_is_private(up):
    path = up.install.home / "api-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == up.token


def test_the_activator_holds_the_token_in_its_environment_not_its_argv(up):
    activators = [pid for pid in descendants(up.install.proc.pid) if "activator" in cmdline(pid)]
    assert len(activators) == 1, activators
    assert environ(activators[0]).get("ACTIVATOR_AUTOSCALER_TOKEN") == up.token
    assert not [arg for arg in cmdline(activators[0]) if up.token in arg]


def test_the_activator_reports_stats_through_the_guard(up, tmp_path):
    record = tmp_path / "requests.log"
    status, answer = up.applied({"documents": [recorder_service("counted", record, annotations={"min-scale": "1"})]})
    assert status == 200, answer
    deadline = time.monotonic() + 60
    while routed(up.install.port, host_of("counted")) != 200:
        assert time.monotonic() < deadline, "the Service never answered"
        time.sleep(0.3)
    # the router's stats for the request reach the autoscaler over the guarded WebSocket
    while up.counter("autoscaler_stats_received_count") == 0:
        assert time.monotonic() < deadline, "no stat from the activator reached the autoscaler"
        time.sleep(0.3)


def routed(port: int, host: str) -> int:
    """The status of a GET through the router (the activator) to the Service at ``host``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/?id=through-the-router", headers={"Host": host})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


def cli(*args: str, home: Path, port: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATAPLANE_HOME=str(home), DATAPLANE_SERVER=f"http://127.0.0.1:{port}")
    return subprocess.run([sys.executable, "-m", "dataplane", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_applies_gets_and_deletes_with_the_token(up, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-cli\ndata:\n  greeting: hello\n")
    home, port = up.install.home, up.port
    done = cli("apply", "-f", str(manifest), home=home, port=port)
    assert done.returncode == 0, done
    done = cli("get", "configmap", "from-cli", "-o", "json", home=home, port=port)
    assert done.returncode == 0 and json.loads(done.stdout)["data"] == {"greeting": "hello"}, done
    # without the token (another home): refused, and told where the token lives
    done = cli("delete", "configmap", "from-cli", home=tmp_path / "elsewhere", port=port)
    assert done.returncode != 0 and str(home / "api-token") in done.stderr, done
    assert up.exists("configmaps", "default", "from-cli")
    done = cli("delete", "configmap", "from-cli", home=home, port=port)
    assert done.returncode == 0, done
    assert not up.exists("configmaps", "default", "from-cli")


# -- the standalone autoscaler (Kubernetes): no browser may reach it, the token is optional ------


async def unknown_stats(session: aiohttp.ClientSession, port: int) -> float:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith("autoscaler_stats_unknown_revision_count "))


@pytest.mark.parametrize("token", ["", "cluster-secret"], ids=["no-token-configured", "token-configured"])
async def test_standalone_autoscaler_refuses_pages_and_takes_its_activators(token):
    directory = await DirectoryServer().start()
    port = free_port()
    cmd = dataplane_cmd("autoscaler", "--bind", "127.0.0.1", "--port", str(port), "--directory", directory.url)
    proc = await asyncio.to_thread(Proc, cmd, {"AUTOSCALER_TOKEN": token} if token else {}, port)
    frame = encode_messages([WireStatMessage("default", "ghost", Stat(pod_name="p", average_concurrent_requests=50.0))])
    url = f"ws://127.0.0.1:{port}/"
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with session.ws_connect(url, origin=EVIL, headers={"Authorization": f"Bearer {token}"} if token else None) as ws:
                    await ws.send_bytes(frame)
            assert refused.value.status == 403
            if token:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    async with session.ws_connect(url) as ws:
                        await ws.send_bytes(frame)
                assert refused.value.status == 401
            assert await unknown_stats(session, port) == 0
            # what an activator sends: no Origin, and the token when one is configured
            async with session.ws_connect(url, headers={"Authorization": f"Bearer {token}"} if token else None) as ws:
                await ws.send_bytes(frame)
            deadline = time.monotonic() + 5
            while await unknown_stats(session, port) == 0:
                assert time.monotonic() < deadline, "the activator's stat was not taken"
                await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(proc.stop)
        await directory.stop()

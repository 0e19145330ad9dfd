"""Bad input: malformed and smuggling requests at the router, invalid documents at the control API.

Every malformed request must be refused by the router itself (400, 431, 408;
501 for a transfer-coding it does not implement; 505 for an HTTP version it
does not speak), on a connection it then closes, and must never reach the app:
the recording app writes a line for every request it sees, and after each case
a valid request proves that the path to the app is open and that it is the
only thing the app saw. Invalid documents must be refused with the field paths
at fault, and nothing of the batch applied.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadtests._scenario_install import LocalInstall
from tests.integration.test_reliability_support import autoscaler_config, host_of, read_records, recorder_service

HOST = host_of("target").encode()
HEADER_TIMEOUT = 60.0
"""The router's limit on receiving a request head (EngineConfig.header_timeout; `dataplane up` has no flag for it)."""


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    allowed: frozenset[int] = frozenset({400})


def _req(head: bytes, body: bytes = b"") -> bytes:
    return head.replace(b"{host}", HOST) + body


CORPUS = [
    Case("cl-te", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\nG")),
    Case("te-cl", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n")),
    Case("duplicate-content-length-conflicting", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", b"hello!")),
    # RFC 9110 §8.6: identical duplicates must be rejected or merged into one before forwarding
    Case("duplicate-content-length-identical", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", b"hello")),
    Case("content-length-list", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5, 5\r\n\r\n", b"hello")),
    Case("content-length-signed", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: +5\r\n\r\n", b"hello")),
    Case("obs-fold", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\nX-Folded: one\r\n two\r\n\r\n")),
    Case("obs-fold-transfer-encoding", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", b"0\r\n\r\n")),
    Case("space-before-colon", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding : chunked\r\n\r\n", b"0\r\n\r\n")),
    Case("chunk-size-not-hex", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n", b"zz\r\nhello\r\n0\r\n\r\n")),
    Case("chunk-size-negative", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n")),
    Case("chunk-size-overflow", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n", b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")),
    Case("chunk-data-overrun", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n")),
    Case("transfer-encoding-gzip", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip\r\n\r\n"), frozenset({400, 501})),
    Case("transfer-encoding-chunked-not-last", _req(b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), frozenset({400, 501})),
    Case("transfer-encoding-in-http10", _req(b"POST / HTTP/1.0\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n")),
    Case("oversize-head", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"), frozenset({431})),
    Case("too-many-fields", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(500)) + b"\r\n"), frozenset({431})),
    Case("bare-lf", _req(b"GET / HTTP/1.1\nHost: {host}\n\n")),
    Case("space-in-field-name", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\nBad Name: v\r\n\r\n")),
    Case("nul-in-value", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\nX-A: a\x00b\r\n\r\n")),
    Case("cr-in-value", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\nX-A: a\rb\r\n\r\n")),
    Case("two-hosts", _req(b"GET / HTTP/1.1\r\nHost: {host}\r\nHost: other.example.com\r\n\r\n")),
    Case("no-host-http11", b"GET / HTTP/1.1\r\n\r\n"),
    Case("whitespace-before-first-field", _req(b"GET / HTTP/1.1\r\n X-A: b\r\nHost: {host}\r\n\r\n")),
    Case("bad-method-token", _req(b"G(T / HTTP/1.1\r\nHost: {host}\r\n\r\n")),
    Case("unknown-http-version", _req(b"GET / HTTP/9.9\r\nHost: {host}\r\n\r\n"), frozenset({400, 505})),
]


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send ``data`` in one write; everything received, and whether the server closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False


def get(port: int, path: str) -> tuple[int, bytes]:
    response, _ = exchange(port, b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path.encode(), HOST), timeout=30)
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def api_call(base: str, method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class SlowHeaders(threading.Thread):
    """A client sending its request head one byte every few seconds (slowloris), started with the module.

    Started early so that the router's one-minute header timeout runs while
    the other cases do.
    """

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.status: int | None = None
        self.elapsed: float | None = None
        self.closed = False

    def run(self) -> None:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: " + HOST + b"\r\nX-Slow: ")
            while not self.stop.is_set() and time.monotonic() - started < HEADER_TIMEOUT + 15:
                try:
                    s.sendall(b"a")
                except OSError:
                    self.closed = True
                    break
                s.settimeout(3)
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    self.closed = True
                    break
                if data:
                    self.status = int(data.split(b" ", 2)[1])
                self.closed = True
                break
        self.elapsed = time.monotonic() - started


@dataclass
class FrontDoor:
    install: LocalInstall
    record: Path
    slow: SlowHeaders

    @property
    def api(self) -> str:
        return self.install.api_url

    @property
    def token(self) -> str | None:
        return self.install.token()

    def applied(self, resource: str = "services") -> set[str]:
        status, body = api_call(self.api, "GET", f"/v1/{resource}?allNamespaces=1")
        assert status == 200, body
        return {o["metadata"]["name"] for o in body["items"]}


@pytest.fixture(scope="module")
def front_door(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("front-door")
    record = tmp / "requests.log"
    install = LocalInstall(tmp / "home", tmp / "up.log")
    install.start()
    slow = None
    try:
        docs = [autoscaler_config(), recorder_service("target", record, annotations={"min-scale": "1"})]
        status, body = api_call(install.api_url, "POST", "/v1/apply", json.dumps({"documents": docs}).encode(), install.token())
        assert status == 200, body
        deadline = time.monotonic() + 60
        while get(install.port, "/?id=warm-up")[0] != 200:
            assert time.monotonic() < deadline, "the target service never answered"
            time.sleep(0.3)
        slow = SlowHeaders(install.port)
        slow.start()
        yield FrontDoor(install, record, slow)
    finally:
        if slow is not None:
            slow.stop.set()
            slow.join(10)
        install.stop()


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_malformed_request_is_refused_by_the_router(front_door, case):
    seen_before = len(read_records(front_door.record))
    response, closed = exchange(front_door.install.port, case.data)
    assert response.startswith(b"HTTP/1.1 "), f"no HTTP answer: {response[:200]!r}"
    head = response.partition(b"\r\n\r\n")[0]
    status = int(head.split(b" ", 2)[1])
    assert status in case.allowed, f"{case.name}: got {status}, want one of {sorted(case.allowed)}: {response[:300]!r}"
    # the activator stamps every request it forwarded: a refusal by the router itself has no such header
    assert b"x-activator-wait-ms" not in head.lower(), f"{case.name}: forwarded to a pod, refused there: {response[:300]!r}"
    assert closed, f"{case.name}: the router kept the connection open after refusing the request"
    sentinel = f"after-{case.name}"
    assert get(front_door.install.port, f"/?id={sentinel}")[0] == 200
    new = [r.id for r in read_records(front_door.record)[seen_before:]]
    assert new == [sentinel], f"{case.name}: the app saw {new}, expected only the valid request that followed"


def test_invalid_json_body_is_refused(front_door):
    before = front_door.applied()
    status, body = api_call(front_door.api, "POST", "/v1/apply", b'{"documents": [', front_door.token)
    assert status == 400 and "JSON" in body["error"], body
    status, body = api_call(front_door.api, "POST", "/v1/apply", b'{"documents": {"kind": "Service"}}', front_door.token)
    assert status == 400 and "documents" in body["error"], body
    assert front_door.applied() == before


def test_unknown_kind_is_refused(front_door):
    doc = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "metadata": {"name": "hand-made"}, "spec": {}}
    status, body = api_call(front_door.api, "POST", "/v1/apply", json.dumps({"documents": [doc]}).encode(), front_door.token)
    assert status == 400 and "Revision" in body["error"], body
    assert "hand-made" not in front_door.applied("revisions")


def test_invalid_resources_get_field_paths_and_nothing_is_applied(front_door, tmp_path):
    good = recorder_service("fine", tmp_path / "unused.log")
    bad = recorder_service("Not_A_Name", tmp_path / "unused.log", container_concurrency=-3)
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 99999}]
    bad["spec"]["traffic"] = [{"latestRevision": True, "percent": 90}]
    before = front_door.applied()
    status, body = api_call(front_door.api, "POST", "/v1/apply", json.dumps({"documents": [good, bad]}).encode(), front_door.token)
    assert status == 422, body
    paths = {(d["document"], d["path"]) for d in body["details"]}
    expected = {
        (1, "metadata.name"),
        (1, "spec.template.spec.containerConcurrency"),
        (1, "spec.template.spec.containers[0].ports[0].containerPort"),
    }
    assert expected <= paths, body["details"]
    assert any(doc == 1 and path.startswith("spec.traffic") for doc, path in paths), body["details"]
    assert all(d["message"] for d in body["details"])
    assert front_door.applied() == before, "a batch with an invalid document must apply nothing, not even the valid one"


def test_invalid_platform_config_names_the_key_and_keeps_the_old(front_door):
    doc = autoscaler_config(stable_window="1s")
    status, body = api_call(front_door.api, "POST", "/v1/apply", json.dumps({"documents": [doc]}).encode(), front_door.token)
    assert status == 422, body
    assert any("stable-window" in d["message"] or "stable-window" in d["path"] for d in body["details"]), body
    status, cm = api_call(front_door.api, "GET", "/v1/configmaps/knative-serving/config-autoscaler")
    assert status == 200 and cm["data"] == autoscaler_config()["data"], cm


def test_invalid_yaml_is_refused_by_the_cli_and_nothing_is_applied(front_door, tmp_path):
    manifest = tmp_path / "broken.yaml"
    manifest.write_text("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: broken\n  labels: [unclosed\nspec: {}\n")
    before = front_door.applied()
    done = subprocess.run(
        [sys.executable, "-m", "dataplane", "apply", "-f", str(manifest)],
        env=dict(os.environ, DATAPLANE_SERVER=front_door.api, DATAPLANE_HOME=str(front_door.install.home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done
    message = done.stdout + done.stderr
    assert "broken.yaml" in message and "line" in message, message
    assert front_door.applied() == before


def test_a_misspelt_field_is_refused_by_apply_with_its_path_and_nothing_is_applied(front_door, tmp_path):
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: typo\nspec:\n  template:\n"
        "    spec:\n      containerConcurency: 1\n      containers:\n        - image: example/app\n"
        "          comand: [sleep, '60']\n"
    )
    before = front_door.applied()
    done = subprocess.run(
        [sys.executable, "-m", "dataplane", "apply", "-f", str(manifest)],
        env=dict(os.environ, DATAPLANE_SERVER=front_door.api, DATAPLANE_HOME=str(front_door.install.home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done
    assert 'spec.template.spec.containers[0].comand: unknown field; did you mean "command"?' in done.stderr, done.stderr
    assert 'spec.template.spec.containerConcurency: unknown field; did you mean "containerConcurrency"?' in done.stderr
    assert front_door.applied() == before
    assert "typo" not in front_door.applied("configurations")


@pytest.mark.slow
def test_slow_request_head_times_out_with_408(front_door):
    slow = front_door.slow
    slow.join(HEADER_TIMEOUT + 20)
    assert not slow.is_alive(), "the slow client is still sending"
    assert slow.status == 408, f"got {slow.status} after {slow.elapsed:.0f} s (connection closed: {slow.closed})"
    assert HEADER_TIMEOUT - 1 <= slow.elapsed <= HEADER_TIMEOUT + 10, slow.elapsed
    assert all(r.path == "/" and r.id != "-" for r in read_records(front_door.record)), "the slow request reached the app"

"""The control API's guard: the checks alone, then attacks over real HTTP on a control plane in this process."""

from __future__ import annotations

import asyncio
import stat

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from dataplane.activator.links import AutoscalerLink
from dataplane.cli.http import local_token
from dataplane.guard import Guard, host_names
from dataplane.ports import free_port
from dataplane.platform.local.controlplane import ControlPlane
from dataplane.platform.local.home import read_token, token_path, write_token
from dataplane.stats.wire import Stat, WireStatMessage, encode_messages

EVIL = "http://evil.example.com"
TOKEN = "s3cret-token"
GUARD = Guard.loopback(8081, token=TOKEN, token_hint="/home/u/.dataplane/api-token")
OK = {"Host": "127.0.0.1:8081", "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
WS = {"Upgrade": "websocket", "Connection": "Upgrade"}


def check(method: str, headers: dict, has_body: bool = True, guard: Guard = GUARD):
    refusal = guard.check(method, CIMultiDict(headers), has_body)
    return None if refusal is None else refusal.status


@pytest.mark.parametrize(("method", "headers", "has_body", "status"), [
    # Host: only the names the API is bound to, on reads too (a rebinding page can read answers)
    ("GET", {"Host": "127.0.0.1:8081"}, False, None),
    ("GET", {"Host": "LOCALHOST:8081"}, False, None),
    ("GET", {"Host": "[::1]:8081"}, False, None),
    ("GET", {"Host": "evil.example.com:8081"}, False, 421),
    ("POST", {**OK, "Host": "evil.example.com:8081"}, True, 421),
    ("GET", {"Host": "127.0.0.1:9999"}, False, 421),
    ("GET", {"Host": "127.0.0.1"}, False, 421),
    ("GET", {}, False, 421),
    # Origin: a page elsewhere is refused; the API's own origin (a console it might serve) is not
    ("POST", {**OK, "Origin": EVIL}, True, 403),
    ("GET", {"Host": "127.0.0.1:8081", "Origin": EVIL}, False, 403),
    ("POST", {**OK, "Origin": "null"}, True, 403),
    ("POST", {**OK, "Origin": "http://localhost:3000"}, True, 403),
    ("POST", {**OK, "Origin": "http://127.0.0.1:8081"}, True, None),
    ("GET", {"Host": "127.0.0.1:8081", "Sec-Fetch-Site": "cross-site"}, False, 403),
    ("GET", {"Host": "127.0.0.1:8081", "Sec-Fetch-Site": "same-site"}, False, 403),
    ("GET", {"Host": "127.0.0.1:8081", "Sec-Fetch-Site": "none"}, False, None),
    # the token: every mutating request
    ("POST", {**OK, "Authorization": ""}, True, 401),
    ("POST", {"Host": "127.0.0.1:8081", "Content-Type": "application/json"}, True, 401),
    ("POST", {**OK, "Authorization": "Bearer wrong"}, True, 401),
    ("POST", {**OK, "Authorization": f"Basic {TOKEN}"}, True, 401),
    ("POST", {**OK, "Authorization": "Bearer s3cret-tokeń"}, True, 401),
    ("DELETE", {"Host": "127.0.0.1:8081"}, False, 401),
    ("DELETE", {"Host": "127.0.0.1:8081", "Authorization": f"Bearer {TOKEN}"}, False, None),
    ("PUT", {**OK, "Authorization": ""}, True, 401),
    # JSON only: what a page can send without a preflight (text/plain, forms) is refused
    ("POST", {**OK, "Content-Type": "text/plain"}, True, 415),
    ("POST", {**OK, "Content-Type": "application/x-www-form-urlencoded"}, True, 415),
    ("POST", {**OK, "Content-Type": "multipart/form-data; boundary=x"}, True, 415),
    ("POST", {k: v for k, v in OK.items() if k != "Content-Type"}, False, 415),
    ("POST", {**OK, "Content-Type": "Application/JSON; charset=utf-8"}, True, None),
    ("PATCH", {**OK, "Content-Type": "text/plain"}, True, 415),
    ("DELETE", {**OK, "Content-Type": "text/plain"}, True, 415),
    # WebSocket handshakes: never with an Origin, not even our own; always with the token
    ("GET", {**WS, "Host": "127.0.0.1:8081", "Authorization": f"Bearer {TOKEN}"}, False, None),
    ("GET", {**WS, "Host": "127.0.0.1:8081", "Authorization": f"Bearer {TOKEN}", "Origin": EVIL}, False, 403),
    ("GET", {**WS, "Host": "127.0.0.1:8081", "Authorization": f"Bearer {TOKEN}", "Origin": "http://127.0.0.1:8081"}, False, 403),
    ("GET", {**WS, "Host": "127.0.0.1:8081"}, False, 401),
    ("GET", {**WS, "Host": "evil.example.com:8081", "Authorization": f"Bearer {TOKEN}"}, False, 421),
])  # fmt: skip
def test_checks(method, headers, has_body, status):
    assert check(method, headers, has_body) == status


def test_reasons_name_what_was_wrong():
    refusal = GUARD.check("GET", CIMultiDict(Host="evil.example.com:8081"), False)
    assert "'evil.example.com:8081'" in refusal.reason and "127.0.0.1:8081" in refusal.reason
    assert EVIL in GUARD.check("POST", CIMultiDict({**OK, "Origin": EVIL}), True).reason
    assert "text/plain" in GUARD.check("POST", CIMultiDict({**OK, "Content-Type": "text/plain"}), True).reason
    missing = GUARD.check("POST", CIMultiDict({**OK, "Authorization": ""}), True)
    assert "/home/u/.dataplane/api-token" in missing.reason and "Authorization: Bearer" in missing.reason
    assert missing.response().headers["WWW-Authenticate"].startswith("Bearer")


def test_host_names():
    assert host_names(8081) == {"127.0.0.1:8081", "localhost:8081", "[::1]:8081"}
    assert "192.168.1.5:8081" in host_names(8081, "192.168.1.5")
    assert "[fe80::1]:8081" in host_names(8081, "fe80::1")
    assert "localhost" in host_names(80) and "localhost" not in host_names(8081)


def test_cluster_guard_takes_any_host_refuses_every_origin_and_needs_no_token_unless_set():
    cluster = Guard()
    assert check("GET", {**WS, "Host": "autoscaler.knative-serving:8080"}, False, cluster) is None
    assert check("GET", {**WS, "Host": "autoscaler:8080", "Origin": EVIL}, False, cluster) == 403
    assert check("GET", {"Host": "autoscaler:8080", "Origin": "http://autoscaler:8080"}, False, cluster) == 403
    with_token = Guard(token=TOKEN)
    assert check("GET", {**WS, "Host": "autoscaler:8080"}, False, with_token) == 401
    assert check("GET", {**WS, "Host": "autoscaler:8080", "Authorization": f"Bearer {TOKEN}"}, False, with_token) is None


# -- the token file ------------------------------------------------------------------------------


def test_token_file_is_private_and_new_each_start(tmp_path):
    home = tmp_path / "home"
    first = write_token(home)
    path = token_path(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token(home) == first and len(first) >= 32
    second = write_token(home)
    assert second != first and read_token(home) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["api-token"]  # no temporary file left behind


def test_no_token_file_means_no_token(tmp_path):
    assert read_token(tmp_path / "never-started") is None


def test_the_cli_sends_the_token_only_to_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAPLANE_HOME", str(tmp_path))
    token = write_token(tmp_path)
    assert local_token("http://127.0.0.1:8081") == token
    assert local_token("http://localhost:9000") == token
    assert local_token("http://[::1]:8081") == token
    assert local_token("http://cp.example.com:8081") is None
    assert local_token("http://10.0.0.1:8081") is None


# -- attacks on a real control plane -------------------------------------------------------------


@pytest.fixture
async def plane(tmp_path):
    plane = ControlPlane(tmp_path / "home", router_port=free_port())
    port = free_port()
    await plane.start("127.0.0.1", port)
    plane.url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        plane.session = session
        yield plane
    await plane.stop()


async def test_a_second_start_that_cannot_bind_leaves_the_running_one_its_token(plane):
    port = int(plane.url.rsplit(":", 1)[1])
    second = ControlPlane(plane.home, router_port=free_port())
    with pytest.raises(OSError):
        await second.start("127.0.0.1", port)
    await second.stop()
    assert read_token(plane.home) == plane.token
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "still-mine", "namespace": "default"}, "data": {}}
    status, answer = await call(plane, "POST", "/v1/apply", orjson.dumps({"documents": [doc]}), **{"Content-Type": "application/json"}, **auth(plane))
    assert status == 200, answer


def evil_service(marker) -> dict:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "evil", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "x", "command": ["sh", "-c", f"touch {marker}; sleep 60"]}]}}},
    }


async def call(plane, method: str, path: str, body: bytes | None = None, **headers) -> tuple[int, dict]:
    async with plane.session.request(method, plane.url + path, data=body, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read())


def auth(plane) -> dict:
    return {"Authorization": f"Bearer {plane.token}"}


async def test_text_plain_apply_is_refused_and_nothing_runs(plane, tmp_path):
    marker = tmp_path / "pwned"
    body = orjson.dumps({"documents": [evil_service(marker)]})
    status, answer = await call(plane, "POST", "/v1/apply", body, **{"Content-Type": "text/plain"})
    assert status == 401, answer
    status, answer = await call(plane, "POST", "/v1/apply", body, **{"Content-Type": "text/plain"}, **auth(plane))
    assert status == 415, answer
    assert plane.store.peek("Service") == [] and plane.runtime.pods() == []
    assert not marker.exists()


@pytest.mark.parametrize("headers", [
    {"Origin": EVIL},
    {"Host": "evil.example.com:8081"},
    {"Authorization": "Bearer not-the-token"},
    {"Authorization": ""},
])  # fmt: skip
async def test_json_apply_from_a_page_or_without_the_token_is_refused(plane, tmp_path, headers):
    marker = tmp_path / "pwned"
    body = orjson.dumps({"documents": [evil_service(marker)]})
    status, answer = await call(plane, "POST", "/v1/apply", body, **{"Content-Type": "application/json", **auth(plane), **headers})
    assert status in (401, 403, 421), answer
    assert answer["error"]
    assert plane.store.peek("Service") == [] and plane.runtime.pods() == []
    assert not marker.exists()


async def test_rebinding_host_cannot_read(plane):
    status, answer = await call(plane, "GET", "/v1/services", Host="evil.example.com:8081")
    assert status == 421 and "evil.example.com:8081" in answer["error"]
    status, _ = await call(plane, "GET", "/v1/services")
    assert status == 200


async def test_delete_from_a_page_or_without_the_token_leaves_the_object(plane):
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep", "namespace": "default"}, "data": {"a": "b"}}
    status, answer = await call(plane, "POST", "/v1/apply", orjson.dumps({"documents": [doc]}), **{"Content-Type": "application/json"}, **auth(plane))
    assert status == 200, answer
    for headers in ({"Origin": EVIL, **auth(plane)}, {}, {"Authorization": "Bearer nope"}, {"Host": "evil.example.com:8081", **auth(plane)}):
        status, answer = await call(plane, "DELETE", "/v1/configmaps/default/keep", **headers)
        assert status in (401, 403, 421), (headers, answer)
        assert (await call(plane, "GET", "/v1/configmaps/default/keep"))[0] == 200
    status, answer = await call(plane, "DELETE", "/v1/configmaps/default/keep", **auth(plane))
    assert status == 200, answer


async def test_preflight_is_never_granted(plane):
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization"}
    async with plane.session.options(plane.url + "/v1/apply", headers=headers) as resp:
        assert resp.status == 403
        assert not any(h.lower().startswith("access-control-") for h in resp.headers)


def stat_frame() -> bytes:
    return encode_messages([WireStatMessage("default", "ghost", Stat(pod_name="p", average_concurrent_requests=100.0, request_count=100.0))])


def pushed(plane) -> int:
    counters = plane.autoscaler.stats
    return counters.received + counters.unknown + counters.rejected_frames


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": EVIL}, 403),
    ({"Origin": EVIL, "Authorization": "<token>"}, 403),
    ({}, 401),
    ({"Host": "evil.example.com:8081", "Authorization": "<token>"}, 421),
])  # fmt: skip
async def test_stat_websocket_refuses_pages_and_strangers(plane, headers, status):
    headers = {k: (f"Bearer {plane.token}" if v == "<token>" else v) for k, v in headers.items()}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with plane.session.ws_connect(plane.url + "/autoscaler/stats", headers=headers) as ws:
            await ws.send_bytes(stat_frame())
            await ws.close()
    assert refused.value.status == status
    assert pushed(plane) == 0


async def test_stat_websocket_takes_the_activator_with_the_token(plane):
    async with plane.session.ws_connect(plane.url + "/autoscaler/stats", headers=auth(plane)) as ws:
        await ws.send_bytes(stat_frame())
        await ws.close()
    for _ in range(100):
        if pushed(plane):
            break
        await asyncio.sleep(0.01)
    assert plane.autoscaler.stats.unknown == 1


@pytest.mark.parametrize(("token", "recorded"), [("<token>", 1), ("", 0), ("wrong", 0)])
async def test_activator_link_presents_the_token(plane, token, recorded):
    link = AutoscalerLink(plane.url.replace("http", "ws") + "/autoscaler/stats", plane.token if token == "<token>" else token)
    task = asyncio.get_running_loop().create_task(link.run())
    try:
        link.send([WireStatMessage("default", "ghost", Stat(pod_name="activator", average_concurrent_requests=1.0))])
        for _ in range(100):
            if pushed(plane):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert plane.autoscaler.stats.unknown == recorded

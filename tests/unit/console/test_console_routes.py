"""The console on a real control plane in this process: its page, and pages elsewhere refused.

No route hands out the API token (only the address `dataplane up` prints carries it, in a fragment
no browser sends); a page of another origin may make the browser send requests to the API but
changes nothing; a page whose name rebinds to 127.0.0.1 is refused by Host.
"""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from dataplane.console.app import Console, address
from dataplane.platform.local.controlplane import ControlPlane
from dataplane.platform.local.podspec import WORKING_DIR_ANNOTATION
from dataplane.ports import free_port

EVIL = "http://evil.example.com"


@pytest.fixture
async def plane(tmp_path):
    plane = ControlPlane(tmp_path / "home", router_port=free_port())
    port = free_port()
    await plane.start("127.0.0.1", port, extra_routes=Console().add_routes)
    plane.url = f"http://127.0.0.1:{port}"
    plane.origin = plane.url
    async with aiohttp.ClientSession() as session:
        plane.session = session
        yield plane
    await plane.stop()


async def call(plane, method: str, path: str, body=None, **headers) -> tuple[int, dict, aiohttp.typedefs.LooseHeaders]:
    data = orjson.dumps(body) if isinstance(body, dict) else body
    async with plane.session.request(method, plane.url + path, data=data, headers=headers) as resp:
        raw = await resp.read()
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = {"raw": raw.decode()}
        return resp.status, parsed, resp.headers


def writes(plane) -> dict:
    """What the console's page sends with a change: JSON, the token, its own Origin."""
    return {"Content-Type": "application/json", "Authorization": f"Bearer {plane.token}", "Origin": plane.origin}


SERVICE_YAML = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - image: example/web
          command: [sleep, "60"]
"""


async def test_the_page_is_served_and_may_not_be_framed(plane):
    status, body, headers = await call(plane, "GET", "/")
    assert status == 200 and "<title>dataplane console</title>" in body["raw"]
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        status, _, headers = await call(plane, "GET", f"/console/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind)


@pytest.mark.parametrize("name", ["../app.py", "..%2Fapp.py", "index.html", "api-token", "%2e%2e%2f%2e%2e%2fguard.py"])
async def test_only_the_listed_files_are_served(plane, name):
    status, body, _ = await call(plane, "GET", f"/console/{name}")
    assert status == 404, body


async def test_no_route_hands_out_the_token(plane):
    """Another user of this machine reaches the loopback port too: only the printed address carries the token."""
    for path in ("/", "/console/console.js", "/console/console.css", "/console/session", "/console/token"):
        for headers in ({}, {"Sec-Fetch-Site": "same-origin", "Origin": plane.origin}):
            _, body, answer_headers = await call(plane, "GET", path, **headers)
            assert plane.token not in str(body) and plane.token not in str(answer_headers), path
    assert address("http://127.0.0.1:8081", "abc_-1") == "http://127.0.0.1:8081/#token=abc_-1"


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}, 403),  # a page of another site loads it
    ({"Sec-Fetch-Site": "same-site"}, 403),  # an app behind the router, another port of this machine
    ({"Host": "evil.example.com:8081"}, 421),  # DNS rebinding: the attacker's name, now on 127.0.0.1
])  # fmt: skip
async def test_the_page_is_not_served_to_other_pages(plane, headers, status):
    got, body, _ = await call(plane, "GET", "/", **headers)
    assert got == status, body


async def test_a_preflight_is_never_granted(plane):
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    status, _, answer = await call(plane, "OPTIONS", "/v1/apply", **headers)
    assert status in (403, 405) and "Access-Control-Allow-Origin" not in answer


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},  # a cross-site form or no-cors fetch: no preflight, no token
    {"Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    {"Content-Type": "application/json", "Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Authorization": "Bearer {token}"},
    {"Content-Type": "application/json", "Host": "evil.example.com:8081", "Authorization": "Bearer {token}"},
])  # fmt: skip
async def test_cross_origin_and_rebinding_posts_apply_nothing(plane, headers):
    headers = {k: v.format(token=plane.token) for k, v in headers.items()}
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": SERVICE_YAML}, **headers)
    assert status in (401, 403, 415, 421), body
    assert plane.store.peek("Service") == []


async def test_a_pasted_manifest_is_read_as_the_cli_reads_a_file(plane):
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": SERVICE_YAML, "source": "web.yaml"}, **writes(plane))
    assert status == 200, body
    assert body["results"] == [{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "namespace": "default", "name": "web", "action": "created"}]
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": "kind: [unclosed", "source": "bad\x1b[31m.yaml"}, **writes(plane))
    assert status == 400 and body["error"] == "error parsing bad?[31m.yaml: line 2, column 1: did not find expected ',' or ']'", body
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": "kind: Service\n"}, **writes(plane))
    assert status == 400 and body["error"] == 'error validating "manifest" (document 1): apiVersion not set, metadata.name not set', body
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": "# nothing\n"}, **writes(plane))
    assert status == 400 and body["error"] == "no objects passed to apply", body


async def test_field_errors_name_their_path(plane):
    bad = SERVICE_YAML.replace("command:", "comand:") + "      containerConcurrency: -1\n"
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": bad}, **writes(plane))
    assert status == 422, body
    paths = {d["path"]: d["message"] for d in body["details"]}
    assert 'did you mean "command"' in paths["spec.template.spec.containers[0].comand"], paths
    assert "spec.template.spec.containerConcurrency" in paths, paths
    assert plane.store.peek("Service") == []


async def test_text_without_a_directory_keeps_the_one_the_cli_applied_from(plane, tmp_path):
    first = {"documents": [orjson.loads(orjson.dumps(_service_doc()))], "workingDir": str(tmp_path)}
    status, body, _ = await call(plane, "POST", "/v1/apply", first, **writes(plane))
    assert status == 200, body
    changed = SERVICE_YAML + "      containerConcurrency: 1\n"
    status, body, _ = await call(plane, "POST", "/v1/apply", {"manifest": changed}, **writes(plane))
    assert status == 200 and body["results"][0]["action"] == "configured", body
    stored = plane.store.peek("Service")[0]
    assert stored["spec"]["template"]["metadata"]["annotations"][WORKING_DIR_ANNOTATION] == str(tmp_path)


def _service_doc() -> dict:
    import yaml

    return yaml.safe_load(SERVICE_YAML)


async def test_series_and_events_read_what_the_plane_heard(plane):
    status, body, _ = await call(plane, "GET", "/v1/series/default/nope-00001")
    assert status == 404 and "nope-00001" in body["error"]
    status, body, _ = await call(plane, "GET", "/v1/series/default/x?since=soon")
    assert status == 400, body
    status, body, _ = await call(plane, "GET", "/v1/series/default/x?since=nan")
    assert status == 400, body
    plane.events.line("pod web-00001-deployment-1-abcde started")
    plane.series.note_events([{"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": 1.25, "requests": 2}])
    plane.series.record(100, ("default", "web-00001"), {"rps": 2.0, "concurrency": 1.0, "stable": 0.5, "panic_window": 1.0, "target": 0.7,
                                                          "desired": 2, "ready": 1, "panic": True, "p50": 0.1, "p99": 0.9})
    status, body, _ = await call(plane, "GET", "/v1/series/default/web-00001?since=99")
    assert status == 200 and [s["cold_start"] for s in body["samples"]] == [1.25] and body["samples"][0]["ready"] == 1
    assert ("default", "web-00001") in plane.latency.watched  # its pods' latency is read while it is looked at
    status, body, _ = await call(plane, "GET", "/v1/series/default/web-00001?since=100")
    assert status == 200 and body["samples"] == []
    status, body, _ = await call(plane, "GET", "/v1/events")
    assert status == 200 and body["events"][-1]["line"].endswith("pod web-00001-deployment-1-abcde started")
    seq = body["events"][-1]["seq"]
    status, body, _ = await call(plane, "GET", f"/v1/events?after={seq}")
    assert status == 200 and body["events"] == []
    status, body, _ = await call(plane, "GET", "/v1/events?after=-1")
    assert status == 400, body

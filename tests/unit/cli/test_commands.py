"""`dataplane describe`, `delete` and `logs` against the fake control API."""

from __future__ import annotations

import io
import sys

import pytest

from tests.unit.cli.test_get import seed
from tests.unit.cli.test_seed import LISTING_1


async def apply_seed(control, run, tmp_path) -> None:
    control.ready_after = 1
    (tmp_path / "app.yaml").write_text(LISTING_1)
    assert (await run(["apply", "-f", str(tmp_path / "app.yaml")])).rc == 0


async def test_describe_service(control, run, tmp_path):
    await apply_seed(control, run, tmp_path)
    result = await run("describe ksvc knative-example")
    assert result.rc == 0
    text = result.out
    for expected in ("Name:", "knative-example", "Namespace:", "Labels:", "<none>", "Template:",
                     "Image:", "docker.io/##DOCKERHUB_NAME##/knative-example", "Command:", "node index.js",
                     "URL:", "http://knative-example.default.example.com", "Conditions:"):
        assert expected in text, expected
    lines = text.splitlines()
    assert lines[0].split() == ["Name:", "knative-example"]
    assert lines[1].split() == ["Namespace:", "default"]
    assert lines[0].index("knative-example") == lines[1].index("default")  # values aligned
    conditions = lines[lines.index("Conditions:") + 1:]
    assert conditions[0].split() == ["TYPE", "STATUS", "AGE", "REASON", "MESSAGE"]
    assert conditions[1].split()[:2] == ["Ready", "True"]


async def test_describe_route_shows_traffic(control, run, tmp_path):
    await apply_seed(control, run, tmp_path)
    result = await run("describe route/knative-example")
    lines = result.out.splitlines()
    assert "Domain:" in result.out and "knative-example.default.example.com" in result.out
    traffic = lines.index("Traffic:")
    assert lines[traffic + 1].split() == ["PERCENT", "REVISION", "LATEST", "TAG", "URL"]
    assert lines[traffic + 2].split() == ["100%", "knative-example-00001", "latest"]


async def test_describe_revision_and_pod(control, run, tmp_path):
    await apply_seed(control, run, tmp_path)
    rev = await run("describe rev knative-example-00001")
    assert "Replicas:" in rev.out and "1 actual / 1 desired" in rev.out
    seed(control, "pods", "crashy", spec={"containers": [{"name": "user-container", "image": "example/app"},
                                                         {"name": "queue-proxy"}]},
         status={"phase": "Running", "containerStatuses": [
             {"name": "user-container", "ready": False, "restartCount": 3,
              "state": {"waiting": {"reason": "CrashLoopBackOff"}},
              "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}},
             {"name": "queue-proxy", "ready": True, "restartCount": 0, "state": {"running": {}}}]})
    pod = await run("describe pod crashy")
    lines = [line.strip() for line in pod.out.splitlines()]
    user = lines.index("user-container:")
    section = lines[user:lines.index("queue-proxy:")]
    assert section[1:] == ["Image:          example/app", "State:          Waiting", "Reason:     CrashLoopBackOff",
                           "Last State:     Terminated", "Reason:     Error", "Exit Code:  1",
                           "Ready:          False", "Restart Count:  3"]


async def test_describe_configmap_and_core_service(control, run):
    seed(control, "configmaps", "config-autoscaler", data={"stable-window": "60s", "multi": "a\nb"})
    cm = await run("describe cm config-autoscaler")
    assert "Data:\n  multi:\n    a\n    b\n  stable-window:\n    60s\n" in cm.out
    svc = await run("describe svc knative-ingressgateway -n istio-system")
    assert "LoadBalancer Ingress:" in svc.out and "127.0.0.1" in svc.out
    assert "http2 80/TCP" in svc.out


async def test_describe_not_found(control, run):
    result = await run("describe ksvc nope")
    assert (result.rc, result.out) == (1, "")
    assert result.err == 'Error from server (NotFound): services.serving.knative.dev "nope" not found\n'


async def test_delete_by_name(control, run):
    seed(control, "services", "a")
    seed(control, "services", "b")
    result = await run("delete ksvc a b gone")
    assert result.rc == 1
    assert result.out == ('service.serving.knative.dev "a" deleted\n'
                          'service.serving.knative.dev "b" deleted\n')
    assert result.err == 'Error from server (NotFound): services.serving.knative.dev "gone" not found\n'
    assert control.store["services"] == {}
    quiet = await run("delete ksvc gone --ignore-not-found")
    assert (quiet.rc, quiet.out, quiet.err) == (0, "", "")


async def test_delete_type_slash_name_and_all(control, run):
    seed(control, "configmaps", "x", namespace="ns")
    seed(control, "configmaps", "y", namespace="ns")
    seed(control, "pods", "p")
    one = await run("delete po/p")
    assert one.out == 'pod "p" deleted\n'
    every = await run("delete cm --all -n ns")
    assert every.out == 'configmap "x" deleted\nconfigmap "y" deleted\n'
    nameless = await run("delete cm")
    assert (nameless.rc, nameless.err) == (1, "error: resource(s) were provided, but no name was specified\n")


async def test_delete_from_file(control, run, tmp_path, monkeypatch):
    await apply_seed(control, run, tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO((tmp_path / "app.yaml").read_text()))
    result = await run("delete -f -")
    assert (result.rc, result.out) == (0, 'service.serving.knative.dev "knative-example" deleted\n')
    assert ("DELETE", "/v1/services/default/knative-example") in control.requests


async def test_logs(control, run):
    seed(control, "pods", "p")
    control.logs[("default", "p", "user-container")] = "server is listening on 8080\nGET /\n"
    control.logs[("default", "p", "queue-proxy")] = "qp: ready\n"
    plain = await run("logs p")
    assert (plain.rc, plain.out) == (0, "server is listening on 8080\nGET /\n")
    assert ("GET", "/v1/pods/default/p/log?container=user-container&follow=0") in control.requests
    sidecar = await run("logs pod/p -c queue-proxy")
    assert sidecar.out == "qp: ready\n"
    tail = await run("logs p --tail 1 -f")
    assert tail.out == "GET /\n"
    assert ("GET", "/v1/pods/default/p/log?container=user-container&follow=1&tail=1") in control.requests
    positional = await run("logs p queue-proxy")
    assert positional.out == "qp: ready\n"


async def test_logs_of_missing_pod(control, run):
    result = await run("logs nope")
    assert (result.rc, result.err) == (1, 'Error from server (NotFound): pods "nope" not found\n')


async def test_logs_wrong_type(control, run):
    result = await run("logs cm/x")
    assert (result.rc, result.err) == (1, 'error: logs are only available for pods, services and revisions, not "cm"\n')


async def test_server_flag_on_every_command(control, run, monkeypatch, tmp_path):
    monkeypatch.setenv("DATAPLANE_SERVER", "http://127.0.0.1:1")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    seed(control, "pods", "p")
    for line in (f"apply -f {tmp_path / 'cm.yaml'}", "get cm c", "describe cm c", "logs p", "delete cm c"):
        result = await run(f"{line} --server {control.url}")
        assert result.rc == 0, (line, result.err)


def pod_of(control, name: str, service: str, revision: str) -> None:
    seed(control, "pods", name)
    control.store["pods"][("default", name)]["metadata"]["labels"] = {
        "serving.knative.dev/service": service, "serving.knative.dev/revision": revision}


async def test_logs_of_a_service_or_revision_prefix_every_pod(control, run):
    seed(control, "services", "web")
    seed(control, "revisions", "web-00002")
    pod_of(control, "web-00001-a", "web", "web-00001")
    pod_of(control, "web-00002-b", "web", "web-00002")
    pod_of(control, "other-c", "other", "other-00001")
    control.logs[("default", "web-00001-a", "user-container")] = "one\ntwo\n"
    control.logs[("default", "web-00002-b", "user-container")] = "three"
    service = await run("logs ksvc/web")
    assert (service.rc, service.out) == (0, "[pod/web-00001-a/user-container] one\n[pod/web-00001-a/user-container] two\n"
                                            "[pod/web-00002-b/user-container] three\n")
    revision = await run("logs revision/web-00002 --since 5m --timestamps --tail 3")
    assert revision.out == "[pod/web-00002-b/user-container] three\n"
    sent = [q for m, q in control.requests if q.startswith("/v1/pods/default/web-00002-b/log")][-1]
    assert "timestamps=1" in sent and "tail=3" in sent and "sinceTime=20" in sent
    followed = await run("logs ksvc/web -f")
    assert sorted(followed.out.splitlines()) == ["[pod/web-00001-a/user-container] one",
                                                 "[pod/web-00001-a/user-container] two",
                                                 "[pod/web-00002-b/user-container] three"]


async def test_logs_selectors_that_find_nothing(control, run):
    missing = await run("logs ksvc/nothing")
    assert (missing.rc, missing.err) == (1, 'error: services.serving.knative.dev "nothing" not found\n')
    seed(control, "services", "idle")
    idle = await run("logs ksvc/idle")
    assert (idle.rc, idle.out) == (0, "")
    assert idle.err == "No pods found for service/idle in default namespace (it may be scaled to zero).\n"


async def test_logs_flags_are_checked_before_anything_is_sent(control, run, capsys):
    for line, message in [
        ("logs p --since 5", "argument --since: invalid duration '5': missing unit in duration '5'"),
        ("logs p --since=-1s", "argument --since: invalid duration '-1s': must be positive"),
    ]:
        with pytest.raises(SystemExit):
            await run(line)
        assert message in capsys.readouterr().err
    both = await run("logs p -f --previous")
    assert (both.rc, both.err) == (1, "error: only one of --follow and --previous can be used\n")
    assert not [q for _, q in control.requests if "/log" in q]


def test_since_is_sent_as_an_rfc3339_time():
    from dataplane.cli.logs import rfc3339_since

    assert rfc3339_since(90, 1_700_000_090.25) == "2023-11-14T22:13:20.250000Z"

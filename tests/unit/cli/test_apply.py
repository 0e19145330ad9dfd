"""`dataplane apply`: files, stdin, directories, result lines, server errors, and waiting for Ready."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest

from dataplane.cli.apply import Progress, readiness
from dataplane.cli.http import Client
from dataplane.cli.kinds import resolve

SERVICE = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containerConcurrency: {cc}
      containers:
        - image: example/hello
"""

AUTOSCALER = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
  namespace: knative-serving
data:
  stable-window: 60s
  enable-scale-to-zero: "true"
"""


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


async def test_several_documents_and_files_in_one_request(control, run, tmp_path):
    both = write(tmp_path, "both.yaml", SERVICE.format(cc=10) + "---\n" + AUTOSCALER + "---\n")
    result = await run(["apply", "-f", both, "--no-wait"])
    assert result.rc == 0
    assert result.out == "service.serving.knative.dev/hello created\nconfigmap/config-autoscaler created\n"
    assert len(control.apply_bodies) == 1
    docs = control.apply_bodies[0]["documents"]
    assert [d["metadata"]["namespace"] for d in docs] == ["default", "knative-serving"]
    assert docs[1]["data"] == {"stable-window": "60s", "enable-scale-to-zero": "true"}

    again = await run(["apply", "-f", both, "-f", write(tmp_path, "cm.yaml", AUTOSCALER.replace("60s", "30s")),
                       "--no-wait"])
    assert again.out == ("service.serving.knative.dev/hello unchanged\nconfigmap/config-autoscaler unchanged\n"
                         "configmap/config-autoscaler configured\n")


async def test_directory_applies_manifest_files_in_name_order(control, run, tmp_path):
    write(tmp_path, "b.yml", AUTOSCALER)
    write(tmp_path, "a.json", json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "first"}, "data": {"when": "2019-04-08T00:00:00Z"}}))
    write(tmp_path, "notes.txt", "not a manifest")
    result = await run(["apply", "-f", str(tmp_path), "--no-wait"])
    assert result.out == "configmap/first created\nconfigmap/config-autoscaler created\n"
    assert control.apply_bodies[0]["documents"][0]["data"]["when"] == "2019-04-08T00:00:00Z"


async def test_yaml_timestamps_stay_strings(control, run, tmp_path):
    text = AUTOSCALER + "  since: 2019-04-08T10:00:00Z\n"
    result = await run(["apply", "-f", write(tmp_path, "cm.yaml", text)])
    assert result.rc == 0
    assert control.apply_bodies[0]["documents"][0]["data"]["since"] == "2019-04-08T10:00:00Z"


async def test_stdin(control, run, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(AUTOSCALER))
    result = await run("apply -f -")
    assert (result.rc, result.out) == (0, "configmap/config-autoscaler created\n")


async def test_list_kind_is_expanded(control, run, tmp_path):
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}]}
    result = await run(["apply", "-f", write(tmp_path, "list.json", json.dumps(doc))])
    assert result.out == "configmap/one created\nconfigmap/two created\n"


async def test_yaml_syntax_error_names_file_and_line_and_sends_nothing(control, run, tmp_path):
    bad = write(tmp_path, "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   data: 1\n")
    result = await run(["apply", "-f", bad])
    assert result.rc == 1
    assert result.out == ""
    assert result.err.startswith(f"error: error parsing {bad}: line 5, column 8: ")
    assert control.requests == []


async def test_json_syntax_error_names_line(control, run, tmp_path):
    bad = write(tmp_path, "bad.json", '{\n  "apiVersion": "v1",\n  "kind": }\n')
    result = await run(["apply", "-f", bad])
    assert result.rc == 1
    assert result.err.startswith(f"error: error parsing {bad}: line 3, column 11: ")
    assert control.requests == []


@pytest.mark.parametrize(("text", "message"), [
    ("kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion not set"),
    ("apiVersion: v1\nmetadata: {name: x}\n", "kind not set"),
    ("apiVersion: v1\nkind: ConfigMap\n", "metadata.name not set"),
    ("- just\n- a list\n", "document 1 is not an object"),
])
async def test_documents_that_are_not_resources_are_refused_locally(control, run, tmp_path, text, message):
    result = await run(["apply", "-f", write(tmp_path, "x.yaml", text)])
    assert result.rc == 1
    assert message in result.err
    assert control.requests == []


async def test_missing_file(control, run, tmp_path):
    result = await run(["apply", "-f", str(tmp_path / "nope.yaml")])
    assert result.rc == 1
    assert result.err == f'error: the path "{tmp_path / "nope.yaml"}" does not exist\n'


async def test_namespace_flag_fills_in_and_must_not_contradict(control, run, tmp_path):
    svc = write(tmp_path, "svc.yaml", SERVICE.format(cc=1))
    result = await run(["apply", "-f", svc, "-n", "team-a", "--no-wait"])
    assert result.rc == 0
    assert control.apply_bodies[0]["documents"][0]["metadata"]["namespace"] == "team-a"
    cm = write(tmp_path, "cm.yaml", AUTOSCALER)
    clash = await run(["apply", "-f", cm, "-n", "team-a"])
    assert clash.rc == 1
    assert 'the namespace from the provided object "knative-serving" does not match the namespace "team-a"' in clash.err


async def test_invalid_resource_prints_each_detail(control, run, tmp_path):
    svc = write(tmp_path, "svc.yaml", SERVICE.format(cc=1001))
    result = await run(["apply", "-f", svc])
    assert result.rc == 1
    assert result.out == ""
    assert result.err.splitlines() == [
        "Error from server: the resources are invalid; nothing was applied",
        (f"  service.serving.knative.dev/hello ({svc}): spec.template.spec.containerConcurrency: "
         "must be between 0 and 1000, got 1001"),
    ]
    assert control.store["services"] == {}


async def test_unknown_kind_is_a_server_error(control, run, tmp_path):
    doc = write(tmp_path, "x.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    result = await run(["apply", "-f", doc])
    assert result.rc == 1
    assert result.err == 'Error from server: no matches for kind "Widget" in version "example.com/v1"\n'


async def test_waits_until_ready_polling_the_service(control, run, tmp_path):
    control.ready_after = 3
    result = await run(["apply", "-f", write(tmp_path, "svc.yaml", SERVICE.format(cc=1))])
    assert result.rc == 0
    polls = [p for m, p in control.requests if m == "GET" and p == "/v1/services/default/hello"]
    assert len(polls) == 3
    lines = result.err.splitlines()
    assert lines[0] == ('waiting for service/hello: RevisionMissing: '
                        'Configuration "hello" is waiting for a Revision to become ready.')
    assert lines[-1] == "service/hello is ready at http://hello.default.example.com"


async def test_configured_waits_for_the_new_generation(control, run, tmp_path):
    control.ready_after = 1
    await run(["apply", "-f", write(tmp_path, "svc.yaml", SERVICE.format(cc=1))])
    control.ready_after = 3
    result = await run(["apply", "-f", write(tmp_path, "svc.yaml", SERVICE.format(cc=2))])
    assert result.rc == 0
    # the old Ready=True belonged to generation 1: it must not end the wait
    assert "waiting for service/hello: generation 2 not yet observed" in result.err
    assert result.err.splitlines()[-1].startswith("service/hello is ready")
    assert control.store["services"][("default", "hello")]["status"]["observedGeneration"] == 2


async def test_ready_false_fails_with_reason(control, run, tmp_path):
    control.fail_with = ("RevisionFailed", 'Revision "hello-00001" failed with message: exit status 1.')
    result = await run(["apply", "-f", write(tmp_path, "svc.yaml", SERVICE.format(cc=1))])
    assert result.rc == 1
    assert result.out == "service.serving.knative.dev/hello created\n"
    assert result.err.splitlines()[-1] == (
        'error: service/hello is not ready: RevisionFailed: Revision "hello-00001" failed with message: exit status 1.')


async def test_no_wait_returns_at_once(control, run, tmp_path):
    control.ready_after = 1000
    result = await run(["apply", "-f", write(tmp_path, "svc.yaml", SERVICE.format(cc=1)), "--no-wait"])
    assert (result.rc, result.err) == (0, "")
    assert [m for m, _ in control.requests] == ["POST"]


async def test_timeout(control, run, tmp_path):
    control.ready_after = 1000
    result = await run(["apply", "-f", write(tmp_path, "svc.yaml", SERVICE.format(cc=1)), "--timeout", "0.6s"])
    assert result.rc == 1
    assert result.err.splitlines()[-1].startswith("error: timed out after 0.6s waiting for service/hello: RevisionMissing")
    assert 2 <= sum(1 for m, _ in control.requests if m == "GET") <= 5


@pytest.mark.parametrize(("flag", "message"), [("5x", "invalid duration"), ("0", "must be positive")])
def test_bad_timeout_is_a_usage_error(flag, message, capsys):
    from dataplane.cli.main import main

    with pytest.raises(SystemExit):
        main(["apply", "-f", "x.yaml", "--timeout", flag])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("obj", "expected"), [
    ({"metadata": {"generation": 2}, "status": {"observedGeneration": 1,
                                                "conditions": [{"type": "Ready", "status": "True"}]}},
     ("pending", "generation 2 not yet observed")),
    ({"metadata": {"generation": 2}, "status": {"observedGeneration": 2,
                                                "conditions": [{"type": "Ready", "status": "True"}]}},
     ("ready", "")),
    ({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "boom"}]}},
     ("failed", "RevisionFailed: boom")),
    ({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "Unknown", "reason": "Deploying"}]}},
     ("pending", "Deploying")),
    ({"metadata": {"generation": 1}, "status": {"observedGeneration": 1}}, ("pending", "no Ready condition yet")),
])
def test_readiness(obj, expected):
    assert readiness(obj) == expected


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal():
    screen = Terminal()
    progress = Progress(screen)
    progress.update("waiting for service/a: RevisionMissing")
    progress.update("waiting for service/a: RevisionMissing")
    progress.update("waiting for service/a: Deploying")
    progress.say("service/a is ready")
    assert screen.getvalue() == ("\r\x1b[Kwaiting for service/a: RevisionMissing"
                                 "\r\x1b[Kwaiting for service/a: Deploying"
                                 "\r\x1b[Kservice/a is ready\n")


def test_progress_prints_plain_lines_elsewhere():
    log = io.StringIO()
    progress = Progress(log)
    progress.update("one")
    progress.update("one")
    progress.update("two")
    progress.clear()
    assert log.getvalue() == "one\ntwo\n"


async def test_wait_ready_in_order_with_injected_interval(control):
    from dataplane.cli.apply import wait_ready

    for name in ("a", "b"):
        control.put("routes", {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": {"name": name},
                               "status": {"observedGeneration": 1}})
        control.polls_left[("routes", "default", name)] = 2
    log = io.StringIO()
    rc = await asyncio.to_thread(
        wait_ready, Client(control.url), [(resolve("rt"), "default", "a"), (resolve("rt"), "default", "b")], 5.0,
        Progress(log), 0.01)
    assert rc == 0
    assert log.getvalue().splitlines() == [
        "waiting for route/a: no Ready condition yet", "route/a is ready at http://a.default.example.com",
        "waiting for route/b: no Ready condition yet", "route/b is ready at http://b.default.example.com"]


async def test_flow_style_yaml_is_not_mistaken_for_json(control, run, tmp_path):
    flow = write(tmp_path, "cm.yaml", "{apiVersion: v1, kind: ConfigMap, metadata: {name: flow}}\n")
    result = await run(["apply", "-f", flow])
    assert (result.rc, result.out) == (0, "configmap/flow created\n")


async def test_working_dir_is_the_manifests_directory(control, run, tmp_path, monkeypatch):
    app = tmp_path / "app"
    app.mkdir()
    svc = write(app, "svc.yaml", SERVICE.format(cc=1))
    monkeypatch.chdir(tmp_path)
    await run(["apply", "-f", "app/svc.yaml", "--no-wait"])
    assert control.apply_bodies[-1]["workingDir"] == str(app)
    await run(["apply", "-f", svc, "-f", write(tmp_path, "cm.yaml", AUTOSCALER), "--no-wait"])
    assert control.apply_bodies[-1]["workingDir"] == str(tmp_path)  # several directories: the current one
    monkeypatch.setattr(sys, "stdin", io.StringIO(AUTOSCALER))
    monkeypatch.chdir(app)
    await run(["apply", "-f", "-"])
    assert control.apply_bodies[-1]["workingDir"] == str(app)

"""`dataplane get`: types and aliases, tables, output formats, empty results, errors, watching."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest
import yaml

from tests.unit.cli.test_seed import cells

KSVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": "hello", "labels": {"app": "hello", "tier": "web"}},
        "status": {"url": "http://hello.default.example.com", "latestCreatedRevisionName": "hello-00002",
                   "latestReadyRevisionName": "hello-00001", "observedGeneration": 1,
                   "conditions": [{"type": "Ready", "status": "False", "reason": "RevisionFailed"},
                                  {"type": "ConfigurationsReady", "status": "False"}]}}


def seed(control, resource: str, name: str, namespace: str = "default", **extra) -> dict:
    kinds = {"services": ("serving.knative.dev/v1", "Service"), "configurations": ("serving.knative.dev/v1", "Configuration"),
             "revisions": ("serving.knative.dev/v1", "Revision"), "routes": ("serving.knative.dev/v1", "Route"),
             "pods": ("v1", "Pod"), "replicasets": ("apps/v1", "ReplicaSet"), "configmaps": ("v1", "ConfigMap"),
             "kubeservices": ("v1", "Service")}
    api_version, kind = kinds[resource]
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, **extra}
    return control.put(resource, obj)


ALIASES = {
    "services": ["service", "services", "ksvc", "kservice", "KSVC", "services.serving.knative.dev"],
    "configurations": ["configuration", "configurations", "config", "cfg"],
    "revisions": ["revision", "revisions", "rev"],
    "routes": ["route", "routes", "rt"],
    "pods": ["pod", "pods", "po"],
    "replicasets": ["replicaset", "replicasets", "rs", "rs.apps"],
    "configmaps": ["configmap", "configmaps", "cm"],
    "kubeservices": ["svc"],
}


@pytest.mark.parametrize(("resource", "word"), [(r, w) for r, words in ALIASES.items() for w in words])
async def test_every_alias_lists_its_resource(control, run, resource, word):
    seed(control, resource, "thing")
    result = await run(["get", word, "-o", "name"])
    assert result.rc == 0
    assert result.out.endswith("/thing\n")
    assert ("GET", f"/v1/{resource}?namespace=default") in control.requests


async def test_service_means_knative_and_svc_means_core(control, run):
    seed(control, "services", "same")
    seed(control, "kubeservices", "same")
    knative = await run("get service same -o name")
    core = await run("get svc same -o name")
    assert knative.out == "service.serving.knative.dev/same\n"
    assert core.out == "service/same\n"


async def test_unknown_type(control, run):
    result = await run("get widgets")
    assert (result.rc, result.err) == (1, 'error: the server doesn\'t have a resource type "widgets"\n')


async def test_service_table(control, run):
    control.put("services", json.loads(json.dumps(KSVC)))
    result = await run("get ksvc")
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    assert lines[1].split() == ["hello", "http://hello.default.example.com", "hello-00002", "hello-00001", "False",
                                "RevisionFailed"]
    # columns line up: each header starts where its cells start
    assert lines[0].index("URL") == lines[1].index("http://")
    assert lines[0].index("REASON") == lines[1].index("RevisionFailed")


async def test_core_tables(control, run):
    seed(control, "configmaps", "config-autoscaler", data={"a": "1", "b": "2"}, binaryData={"c": "AA=="})
    seed(control, "pods", "crashy", spec={"containers": [{"name": "user-container"}, {"name": "queue-proxy"}]},
         status={"phase": "Running", "containerStatuses": [
             {"name": "user-container", "ready": False, "restartCount": 4,
              "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
             {"name": "queue-proxy", "ready": True, "restartCount": 1, "state": {"running": {}}}]})
    cm = await run("get cm")
    assert cells(cm.out.splitlines()[1])[:2] == ["config-autoscaler", "3"]
    pods = await run("get po")
    assert cells(pods.out.splitlines()[1])[:4] == ["crashy", "1/2", "CrashLoopBackOff", "5"]
    svc = await run("get svc -n istio-system")
    assert svc.out.splitlines()[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc.out.splitlines()[1].split() == ["knative-ingressgateway", "LoadBalancer", "10.0.0.10", "127.0.0.1",
                                               "80:31380/TCP", "120m"]


async def test_wide_adds_columns(control, run):
    seed(control, "pods", "p", spec={"containers": [{"name": "user-container"}], "nodeName": "local"},
         status={"phase": "Pending", "podIP": "127.0.0.1"})
    result = await run("get pods -o wide")
    assert result.out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert result.out.splitlines()[1].split()[:3] == ["p", "0/1", "Pending"]
    assert result.out.splitlines()[1].split()[-2:] == ["127.0.0.1", "local"]


async def test_all_namespaces_adds_namespace_column(control, run):
    seed(control, "configmaps", "one", namespace="a")
    seed(control, "configmaps", "two", namespace="b")
    result = await run("get cm -A")
    assert [line.split()[:2] for line in result.out.splitlines()] == [["NAMESPACE", "NAME"], ["a", "one"], ["b", "two"]]
    assert ("GET", "/v1/configmaps?allNamespaces=1") in control.requests


async def test_several_types_print_one_table_each_with_qualified_names(control, run):
    seed(control, "services", "hello")
    seed(control, "revisions", "hello-00001")
    result = await run("get ksvc,rev")
    blocks = result.out.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].splitlines()[1].split() == ["service.serving.knative.dev/hello"]
    assert blocks[1].splitlines()[0].startswith("NAME ")
    assert blocks[1].splitlines()[1].split() == ["revision.serving.knative.dev/hello-00001"]


async def test_type_slash_name_form(control, run):
    seed(control, "services", "a")
    seed(control, "routes", "a")
    result = await run("get ksvc/a rt/a -o name")
    assert result.out == "service.serving.knative.dev/a\nroute.serving.knative.dev/a\n"
    mixed = await run("get ksvc rt/a")
    assert mixed.rc == 1
    assert "resource/name form" in mixed.err


async def test_options_may_come_between_words(control, run):
    seed(control, "configmaps", "x", namespace="other")
    result = await run("get cm -n other x -o name")
    assert (result.rc, result.out) == (0, "configmap/x\n")
    first = await run("get -o name -n other cm x")
    assert first.out == "configmap/x\n"


async def test_empty_results(control, run):
    result = await run("get rev")
    assert (result.rc, result.out) == (0, "No resources found in default namespace.\n")
    everywhere = await run("get rev -A")
    assert everywhere.out == "No resources found.\n"
    in_ns = await run("get pods -n nowhere")
    assert in_ns.out == "No resources found in nowhere namespace.\n"
    as_json = await run("get rev -o json")
    assert json.loads(as_json.out) == {"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}
    as_names = await run("get rev -o name")
    assert (as_names.out, as_names.err) == ("", "No resources found in default namespace.\n")


async def test_not_found(control, run):
    seed(control, "services", "here")
    result = await run("get ksvc here gone")
    assert result.rc == 1
    assert result.err == 'Error from server (NotFound): services.serving.knative.dev "gone" not found\n'
    assert result.out.splitlines()[1] == "here"
    core = await run("get svc nope")
    assert core.err == 'Error from server (NotFound): services "nope" not found\n'
    pod = await run("get po nope -o json")
    assert (pod.rc, pod.out) == (1, "")


async def test_json_and_yaml(control, run):
    control.put("services", json.loads(json.dumps(KSVC)))
    one = await run("get ksvc hello -o json")
    obj = json.loads(one.out)
    assert obj["metadata"]["name"] == "hello"
    assert one.out.startswith('{\n    "apiVersion": "serving.knative.dev/v1",')
    listed = await run("get ksvc -o yaml")
    doc = yaml.safe_load(listed.out)
    assert doc["kind"] == "List"
    assert doc["items"][0]["status"]["url"] == "http://hello.default.example.com"
    single = yaml.safe_load((await run("get ksvc/hello -oyaml")).out)
    assert single["kind"] == "Service"


@pytest.mark.parametrize(("template", "expected"), [
    ("{.metadata.name}", "hello"),
    ("{.status.conditions[0].reason}", "RevisionFailed"),
    ("{.status.conditions[*].type}", "Ready ConfigurationsReady"),
    ('{.status.conditions[?(@.type=="Ready")].status}', "False"),
    ("{.metadata.labels.app}", "hello"),
    ("{.metadata.labels}", '{"app":"hello","tier":"web"}'),
    ("{.status.missing}", ""),
    ("url={.status.url}", "url=http://hello.default.example.com"),
    ('{range .status.conditions[*]}{.type}={.status}{"\\n"}{end}', "Ready=False\nConfigurationsReady=False\n"),
])
async def test_jsonpath_on_one_object(control, run, template, expected):
    control.put("services", json.loads(json.dumps(KSVC)))
    for argv in (["get", "ksvc", "hello", f"-ojsonpath={template}"],
                 ["get", "ksvc", "hello", "-o", f"jsonpath={template}"],
                 ["get", "ksvc", "hello", "-o", "jsonpath", template],
                 ["get", "ksvc", "hello", "-o", "jsonpath", "--template", template],
                 ["get", "ksvc", "hello", f'-ojsonpath="{template}"']):
        result = await run(argv)
        assert (result.rc, result.out) == (0, expected), argv


async def test_jsonpath_on_a_list(control, run):
    seed(control, "pods", "a", metadata={"name": "a", "namespace": "default", "labels": {"serving.knative.dev/revision": "r1"}})
    seed(control, "pods", "b")
    names = await run("get pods -o jsonpath={.items[*].metadata.name}")
    assert names.out == "a b"
    last = await run("get pods -o jsonpath={.items[-1:].metadata.name}")
    assert last.out == "b"
    label = await run(r"get pods -o jsonpath='{.items[0].metadata.labels.serving\.knative\.dev/revision}'")
    assert label.out == "r1"
    lines = await run('get pods -o jsonpath=\'{range .items[*]}{.metadata.name}{"\\n"}{end}\'')
    assert lines.out == "a\nb\n"


async def test_bad_output_format_and_template(control, run):
    bad = await run("get pods -o table")
    assert bad.rc == 1
    assert 'unable to match a printer suitable for the output format "table"' in bad.err
    broken = await run("get pods -o jsonpath={.items[")
    assert broken.rc == 1
    assert broken.err.startswith("error: error parsing jsonpath {.items[, ")
    assert control.requests == []


async def test_custom_columns(control, run):
    control.put("services", json.loads(json.dumps(KSVC)))
    result = await run('get ksvc -o custom-columns=NAME:.metadata.name,READY:{.status.conditions[0].status},X:.nope')
    assert [line.split() for line in result.out.splitlines()] == [["NAME", "READY", "X"], ["hello", "False", "<none>"]]


async def test_label_selector(control, run):
    seed(control, "pods", "a", metadata={"name": "a", "namespace": "default", "labels": {"rev": "1"}})
    seed(control, "pods", "b", metadata={"name": "b", "namespace": "default", "labels": {"rev": "2"}})
    seed(control, "pods", "c")
    assert (await run("get pods -l rev=1 -o name")).out == "pod/a\n"
    assert (await run("get pods -l rev!=1 -o name")).out == "pod/b\npod/c\n"
    assert (await run("get pods -l rev -o name")).out == "pod/a\npod/b\n"
    assert (await run("get pods -l !rev -o name")).out == "pod/c\n"
    assert (await run("get pods -l rev==2,rev -o name")).out == "pod/b\n"


async def test_set_based_label_selector(control, run):
    seed(control, "pods", "a", metadata={"name": "a", "namespace": "default", "labels": {"rev": "1"}})
    seed(control, "pods", "b", metadata={"name": "b", "namespace": "default", "labels": {"rev": "2"}})
    seed(control, "pods", "c")
    assert (await run(["get", "pods", "-l", "rev in (1, 3)", "-o", "name"])).out == "pod/a\n"
    assert (await run(["get", "pods", "-l", "rev notin (1)", "-o", "name"])).out == "pod/b\npod/c\n"
    assert (await run(["get", "pods", "-l", "rev in (1,2),rev notin (2)", "-o", "name"])).out == "pod/a\n"


@pytest.mark.parametrize("selector", ["rev in 1", "rev in (1", "rev=1,", "rev ~ 1", "-rev"])
async def test_a_selector_that_cannot_be_parsed_is_an_error_not_an_empty_list(control, run, selector):
    seed(control, "pods", "a", metadata={"name": "a", "namespace": "default", "labels": {"rev": "1"}})
    result = await run(["get", "pods", f"--selector={selector}"])
    assert result.rc == 1 and result.out == ""
    assert result.err.startswith("error: unable to parse requirement: "), result.err
    assert "No resources found" not in result.err


async def test_no_headers(control, run):
    seed(control, "configmaps", "x")
    result = await run("get cm --no-headers")
    assert result.out.split() == ["x", "0", "0s"]


async def test_connection_refused(run, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    monkeypatch.setenv("DATAPLANE_SERVER", f"http://127.0.0.1:{port}")
    result = await run("get pods")
    assert result.rc == 1
    assert result.err == f'The connection to the server 127.0.0.1:{port} was refused - is "dataplane up" running?\n'
    monkeypatch.delenv("DATAPLANE_SERVER")
    flag = await run(["get", "pods", "--server", f"127.0.0.1:{port}"])
    assert flag.err == result.err


async def test_server_flag_wins_over_environment(control, run, monkeypatch):
    monkeypatch.setenv("DATAPLANE_SERVER", "http://127.0.0.1:1")
    result = await run(["get", "--server", control.url, "cm"])
    assert result.rc == 0
    result = await run(["get", "cm", "-s", control.url])
    assert result.rc == 0


async def test_watch_prints_the_table_then_a_row_per_event(control, run):
    pod = seed(control, "pods", "p1", spec={"containers": [{"name": "user-container"}]},
               status={"phase": "Pending"})
    running = json.loads(json.dumps(pod))
    running["status"] = {"phase": "Running", "containerStatuses": [{"name": "user-container", "ready": True,
                                                                    "restartCount": 0, "state": {"running": {}}}]}
    control.watch_events = [
        {"type": "MODIFIED", "object": pod},  # unchanged row: not repeated
        {"type": "MODIFIED", "object": running},
        {"type": "DELETED", "object": running},
    ]
    result = await run("get pods -w")
    assert result.rc == 0
    rows = [cells(line) for line in result.out.splitlines()]
    assert [r[:3] for r in rows] == [["NAME", "READY", "STATUS"], ["p1", "0/1", "Pending"], ["p1", "1/1", "Running"],
                                     ["p1", "1/1", "Running"]]
    assert ("GET", "/v1/pods?namespace=default&watch=1") in control.requests


async def test_watch_one_name_as_json(control, run):
    seed(control, "routes", "r")
    control.watch_events = [{"type": "MODIFIED", "object": {**control.get("routes", "default", "r"),
                                                             "status": {"url": "http://r"}}}]
    result = await run("get rt r -w -o jsonpath={.status.url}")
    assert result.out == "\nhttp://r\n"
    assert ("GET", "/v1/routes?namespace=default&watch=1&name=r") in control.requests


async def test_watch_refuses_several_types(control, run):
    result = await run("get ksvc,rev -w")
    assert result.rc == 1
    assert "watch" in result.err


async def test_watch_ends_with_exit_0_on_ctrl_c(control, tmp_path):
    control.hold_streams = True
    seed(control, "configmaps", "cm1")
    env = dict(os.environ, DATAPLANE_SERVER=control.url, PYTHONUNBUFFERED="1")
    # a run started in the background inherits SIGINT ignored; a terminal's Ctrl-C is what is tested
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "dataplane", "get", "cm", "-w", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        header = await asyncio.wait_for(proc.stdout.readline(), 20)
        row = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert header.split()[0] == b"NAME"
        assert row.split()[0] == b"cm1"
        for _ in range(100):  # the stream is open once the server has seen the watch request
            if ("GET", "/v1/configmaps?namespace=default&watch=1") in control.requests:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(proc.wait(), 20)
        err = await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (rc, err) == (0, b"")


async def test_names_cannot_be_looked_up_across_namespaces(control, run):
    result = await run("get ksvc hello -A")
    assert (result.rc, result.err) == (1, "error: a resource cannot be retrieved by name across all namespaces\n")
    assert control.requests == []

"""Ages, table layout, -o parsing, kinds and their columns."""

from __future__ import annotations

import pytest

from dataplane.cli import kinds
from dataplane.cli.ages import human_duration, since
from dataplane.cli.printers import (
    Output,
    OutputError,
    TablePrinter,
    layout,
)


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-0.5, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (150, "2m30s"),
    (599, "9m59s"), (600, "10m"), (3600, "60m"), (10799, "179m"), (10800, "3h"), (5 * 3600 + 180, "5h3m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (8 * 86400, "8d"),
    (729 * 86400, "729d"), (730 * 86400, "2y"), (3 * 365 * 86400 + 20 * 86400, "3y20d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_since_parses_rfc3339():
    assert since("1970-01-01T00:01:00Z", 90.0) == "30s"
    assert since("1970-01-01T00:01:00+00:00", 90.0) == "30s"
    assert since("yesterday", 90.0) == "<unknown>"
    assert since(None, 90.0) == "<unknown>"


def test_layout_pads_by_three_and_keeps_widths():
    widths: list[int] = []
    assert layout([["NAME", "READY", "AGE"], ["a-long-name", "1/1", "5s"]], widths) == [
        "NAME          READY   AGE",
        "a-long-name   1/1     5s",
    ]
    # later rows keep the columns already on screen, and only ever widen them
    assert layout([["x", "", "1m"]], widths) == ["x" + " " * 13 + " " * 8 + "1m"]
    assert layout([["a-much-longer-name", "0/1", "1m"]], widths) == ["a-much-longer-name   0/1     1m"]
    assert widths == [21, 8]


def test_table_printer_header_once_and_namespace_column():
    printer = TablePrinter(kinds.resolve("cm"), wide=False, namespaces=True, prefix=False, headers=True, now=lambda: 60.0)
    obj = {"metadata": {"name": "c", "namespace": "n", "creationTimestamp": "1970-01-01T00:00:00Z"}, "data": {"k": "v"}}
    assert [line.split() for line in printer.lines([obj])] == [["NAMESPACE", "NAME", "DATA", "AGE"], ["n", "c", "1", "60s"]]
    assert [line.split() for line in printer.lines([obj])] == [["n", "c", "1", "60s"]]


@pytest.mark.parametrize(("spec", "fmt"), [
    (None, "table"), ("wide", "wide"), ("yaml", "yaml"), ("json", "json"), ("name", "name"),
    ("jsonpath={.a}", "jsonpath"), ("custom-columns=A:.a", "custom-columns"),
])
def test_output_formats(spec, fmt):
    assert Output(spec).format == fmt


@pytest.mark.parametrize(("spec", "template", "message"), [
    ("yml", None, "unable to match a printer"),
    ("jsonpath", None, "no template given"),
    ("jsonpath={.a", None, "error parsing jsonpath {.a"),
    ("custom-columns=NOPATH", None, "custom-columns format"),
    (None, "{.a}", "--template needs -o jsonpath"),
])
def test_output_errors(spec, template, message):
    with pytest.raises(OutputError, match=message):
        Output(spec, template)


def test_jsonpath_quotes_left_by_a_shell_less_caller_are_dropped():
    assert Output('jsonpath="{.a}"').template.render({"a": 1}) == "1"
    assert Output("jsonpath='{.a}'").template.render({"a": 1}) == "1"
    assert Output('jsonpath="x"').template.render({}) == '"x"'


@pytest.mark.parametrize(("word", "resource"), [
    ("ksvc", "services"), ("Service", "services"), ("svc", "kubeservices"), ("kubeservices", "kubeservices"),
    ("cfg", "configurations"), ("config", "configurations"), ("rev", "revisions"), ("rt", "routes"),
    ("po", "pods"), ("rs", "replicasets"), ("replicasets.apps", "replicasets"), ("cm", "configmaps"),
    ("routes.serving.knative.dev", "routes"),
])
def test_resolve(word, resource):
    assert kinds.resolve(word).resource == resource


def test_unknown_type():
    with pytest.raises(kinds.UnknownType, match='doesn\'t have a resource type "deployments"'):
        kinds.resolve("deployments")


@pytest.mark.parametrize(("api_version", "kind", "ref"), [
    ("serving.knative.dev/v1alpha1", "Service", "service.serving.knative.dev/x"),
    ("serving.knative.dev/v1", "Configuration", "configuration.serving.knative.dev/x"),
    ("v1", "Service", "service/x"),
    ("v1", "ConfigMap", "configmap/x"),
    ("apps/v1", "ReplicaSet", "replicaset.apps/x"),
    ("apps/v1", "Deployment", "deployment.apps/x"),
    ("v1", "Secret", "secret/x"),
])
def test_ref_for_object(api_version, kind, ref):
    assert kinds.ref_for_object(api_version, kind, "x") == ref


@pytest.mark.parametrize(("statuses", "meta", "expected"), [
    ([{"state": {"running": {}}}], {}, "Running"),
    ([{"state": {"waiting": {"reason": "ContainerCreating"}}}], {}, "ContainerCreating"),
    ([{"state": {"terminated": {"reason": "Completed"}}}], {}, "Completed"),
    ([{"state": {"terminated": {"exitCode": 137, "signal": 9}}}], {}, "Signal:9"),
    ([{"state": {"terminated": {"exitCode": 2}}}], {}, "ExitCode:2"),
    ([{"state": {"running": {}}}], {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "Terminating"),
    ([], {}, "Running"),
])
def test_pod_status(statuses, meta, expected):
    pod = {"metadata": meta, "status": {"phase": "Running", "containerStatuses": statuses}}
    assert kinds.pod_status(pod) == expected


def test_pod_ready_counts_spec_containers():
    pod = {"spec": {"containers": [{}, {}, {}]}, "status": {"containerStatuses": [{"ready": True}, {"ready": False}]}}
    assert kinds.pod_ready(pod) == "1/3"

"""kubectl JSONPath templates, table-driven."""

from __future__ import annotations

import pytest

from dataplane.cli.jsonpath import JsonPathError, Template

DATA = {
    "kind": "List",
    "items": [
        {"metadata": {"name": "a", "labels": {"serving.knative.dev/revision": "a-00001", "app": "a"}},
         "spec": {"containers": [{"name": "user-container", "image": "img/a"}, {"name": "queue-proxy"}]},
         "status": {"phase": "Running", "restarts": 3, "ready": True,
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "Active", "status": "False"}]}},
        {"metadata": {"name": "b", "labels": {}},
         "spec": {"containers": [{"name": "user-container", "image": "img/b"}]},
         "status": {"phase": "Pending", "restarts": 0, "ready": False, "ratio": 0.5,
                    "conditions": [{"type": "Ready", "status": "Unknown"}]}},
    ],
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{.kind}", "List"),
    ("{kind}", "List"),
    ("{$.kind}", "List"),
    ("{.items[0].metadata.name}", "a"),
    ("{.items[1].metadata.name}", "b"),
    ("{.items[-1].metadata.name}", "b"),
    ("{.items[5].metadata.name}", ""),
    ("{.items[*].metadata.name}", "a b"),
    ("{.items.*.metadata.name}", "a b"),
    ("{.items[0:1].metadata.name}", "a"),
    ("{.items[:].metadata.name}", "a b"),
    ("{.items[::-1].metadata.name}", "b a"),
    ("{.items[0,1].status.phase}", "Running Pending"),
    ("{.items[*].spec.containers[*].image}", "img/a img/b"),
    ("{.items[0].spec.containers[?(@.name=='queue-proxy')].name}", "queue-proxy"),
    ('{.items[?(@.status.phase=="Pending")].metadata.name}', "b"),
    ("{.items[?(@.status.phase!='Pending')].metadata.name}", "a"),
    ("{.items[?(@.status.restarts>1)].metadata.name}", "a"),
    ("{.items[?(@.status.restarts<=0)].metadata.name}", "b"),
    ("{.items[?(@.status.ready==true)].metadata.name}", "a"),
    ("{.items[?(@.status.ratio)].metadata.name}", "b"),
    ("{.items[?(@.metadata.name=~'^a')].metadata.name}", "a"),
    ('{.items[*].status.conditions[?(@.type=="Ready")].status}', "True Unknown"),
    ("{.items[0].metadata.labels.serving\\.knative\\.dev/revision}", "a-00001"),
    ("{.items[0].metadata.labels['serving.knative.dev/revision']}", "a-00001"),
    ("{.items[0].metadata.labels}", '{"serving.knative.dev/revision":"a-00001","app":"a"}'),
    ("{.items[1].spec.containers}", '[{"name":"user-container","image":"img/b"}]'),
    ("{.items[0].status.ready} {.items[1].status.ratio}", "true 0.5"),
    ("{.items[*].status.restarts}", "3 0"),
    ("{..phase}", "Running Pending"),
    ("{.items[0]..type}", "Ready Active"),
    ("{.items[1].nope.deeper}", ""),
    ("name: {.items[0].metadata.name}!", "name: a!"),
    ("no braces at all", "no braces at all"),
    ('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}', "a\tRunning\nb\tPending\n"),
    ("{range .items}[{.metadata.name}]{end}", "[a][b]"),
    ("{range .items[*]}{range .spec.containers[*]}{.name},{end};{end}", "user-container,queue-proxy,;user-container,;"),
    ("{range .items[*]}{$.kind}:{.metadata.name} {end}", "List:a List:b "),
    ("{.items[0].metadata.name}{'}'}", "a}"),
])
def test_render(template, expected):
    assert Template(template).render(DATA) == expected


@pytest.mark.parametrize("template", [
    "{.items[", "{.a", "{range .items[*]}{.x}", "{end}", "{.items[x]}", "{.items[?(@.a==)]}",
    "{.items[1:2:0]}", "{.a{.b}}", "{'unterminated}", "{.items[?@.a]}",
])
def test_parse_errors(template):
    with pytest.raises(JsonPathError):
        Template(template)


def test_results_for_custom_columns():
    assert Template("{.items[*].metadata.name}").results(DATA) == ["a", "b"]

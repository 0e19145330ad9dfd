"""The kn-style flags of `service create/update` and the Service they build (pure, table-driven)."""

from __future__ import annotations

import random
import re

import pytest

from dataplane.cli.common import UsageError
from dataplane.cli.main import build_parser
from dataplane.cli.service_flags import (
    apply_edit,
    new_service,
    parse_pairs,
    parse_port,
    parse_scale,
    revision_name,
    template_changed,
    template_edit,
)


def edit_of(line: str):
    parser, _ = build_parser("service")
    return template_edit(parser.parse_args(["service", *line.split()]))


@pytest.mark.parametrize(("values", "expected"), [
    (["A=1", "B=x=y", "C="], ({"A": "1", "B": "x=y", "C": ""}, [])),
    (["A-", "B=2"], ({"B": "2"}, ["A"])),
])
def test_pairs(values, expected):
    assert parse_pairs(values, "--env") == expected


@pytest.mark.parametrize("value", ["FOO", "=x", "-", ""])
def test_a_pair_without_equals_names_the_flag(value):
    with pytest.raises(UsageError, match=f'invalid --env "{value}": expected NAME=value'):
        parse_pairs([value], "--env")


def test_setting_and_unsetting_one_name_is_refused():
    with pytest.raises(UsageError, match="--annotation sets and unsets a at once"):
        parse_pairs(["a=1", "a-"], "--annotation")


@pytest.mark.parametrize(("value", "expected"), [
    ("8080", {"containerPort": 8080}),
    ("h2c:8080", {"containerPort": 8080, "name": "h2c"}),
    ("http1:80", {"containerPort": 80, "name": "http1"}),
])
def test_ports(value, expected):
    assert parse_port(value) == expected


@pytest.mark.parametrize("value", ["h2c:", ":8080", "http", "80a", "h2c:-1"])
def test_bad_ports_name_the_flag(value):
    with pytest.raises(UsageError, match=f'invalid --port "{value}"'):
        parse_port(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("5", (5, 5)), ("1..5", (1, 5)), ("1..", (1, None)), ("..5", (None, 5)), ("0..0", (0, 0)),
])
def test_scale(value, expected):
    assert parse_scale(value) == expected


@pytest.mark.parametrize("value", ["", "..", "a", "1..b", "1...5", "-1", "1.5"])
def test_bad_scale_names_the_flag(value):
    with pytest.raises(UsageError, match="invalid --scale"):
        parse_scale(value)


def test_scale_and_scale_min_together_are_refused():
    with pytest.raises(UsageError, match="only one of --scale and --scale-min/--scale-max"):
        edit_of("create s --scale 1..3 --scale-min 2")


def test_a_non_integer_concurrency_limit_is_an_argparse_error_naming_the_flag(capsys):
    with pytest.raises(SystemExit):
        edit_of("create s --concurrency-limit many")
    assert "argument --concurrency-limit: invalid int value: 'many'" in capsys.readouterr().err


def test_create_builds_the_whole_service():
    edit = edit_of("create hello --cmd node --cmd server.js --arg=--verbose --arg x -e A=1 --env B=two "
                   "--port h2c:8080 --concurrency-limit 3 --scale 1..4 -a team=web "
                   "--annotation autoscaling.knative.dev/target=10 --image example/hello")
    svc = apply_edit(new_service("hello", "prod"), edit, generation=1)
    assert svc == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "prod", "annotations": {"team": "web"}},
        "spec": {"template": {
            "metadata": {"annotations": {"team": "web", "autoscaling.knative.dev/target": "10",
                                         "autoscaling.knative.dev/min-scale": "1",
                                         "autoscaling.knative.dev/max-scale": "4"}},
            "spec": {"containerConcurrency": 3, "containers": [{
                "image": "example/hello", "command": ["node", "server.js"], "args": ["--verbose", "x"],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}],
                "ports": [{"containerPort": 8080, "name": "h2c"}]}]},
        }},
    }


def existing() -> dict:
    svc = apply_edit(new_service("hello", "default"), edit_of("create hello --cmd node -e A=1 -e B=2 -e C=3 -a x=1"),
                     generation=1)
    svc["spec"]["template"]["metadata"]["name"] = "hello-first"
    svc["spec"]["traffic"] = [{"latestRevision": True, "percent": 100}]
    svc["status"] = {"latestReadyRevisionName": "hello-first"}
    return svc


def test_update_changes_only_what_the_flags_say():
    before = existing()
    after = apply_edit(before, edit_of("update hello -e B=changed -e A- -e D=4 --scale-max 3"), generation=2)
    container = after["spec"]["template"]["spec"]["containers"][0]
    assert container == {"command": ["node"], "env": [{"name": "B", "value": "changed"}, {"name": "C", "value": "3"},
                                                      {"name": "D", "value": "4"}]}
    assert after["spec"]["template"]["metadata"] == {"annotations": {"x": "1", "autoscaling.knative.dev/max-scale": "3"}}
    assert after["spec"]["traffic"] == before["spec"]["traffic"] and after["status"] == before["status"]
    assert after["metadata"] == before["metadata"]
    assert before["spec"]["template"]["metadata"]["name"] == "hello-first"  # the input is not touched
    assert template_changed(before, after)


def test_an_unchanged_template_keeps_its_revision_name():
    before = existing()
    after = apply_edit(before, edit_of("update hello -e A=1"), generation=2)
    assert after == before and not template_changed(before, after)


def test_annotation_unset_removes_it_from_service_and_revision():
    after = apply_edit(existing(), edit_of("update hello -a x-"), generation=2)
    assert "annotations" not in after["metadata"]
    assert "metadata" not in after["spec"]["template"]  # neither a name nor an annotation is left


@pytest.mark.parametrize(("pattern", "expected"), [
    ("hello-v2", r"hello-v2"),
    ("{{.Service}}-{{.Generation}}", r"hello-7"),
    ("{{.Service}}-{{.Random 3}}-{{.Generation}}", r"hello-[bcdfghjklmnpqrstvwxz]{3}-7"),
    ("{{ .Service }}-{{.Random}}", r"hello-[bcdfghjklmnpqrstvwxz]{5}"),
])
def test_revision_names(pattern, expected):
    assert re.fullmatch(expected, revision_name(pattern, "hello", 7, random.Random(1)))


def test_revision_names_must_start_with_the_service():
    with pytest.raises(UsageError, match='must start with the service name and a dash \\("hello-"\\)'):
        revision_name("other-1", "hello", 1, random.Random(1))
    with pytest.raises(UsageError, match="only"):
        revision_name("{{.Service}}-{{.Namespace}}", "hello", 1, random.Random(1))


def test_an_explicit_revision_name_is_set_on_update():
    after = apply_edit(existing(), edit_of("update hello --revision-name {{.Service}}-v{{.Generation}}"), generation=2)
    assert after["spec"]["template"]["metadata"]["name"] == "hello-v2"

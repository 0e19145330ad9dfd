"""deploy/ through the real kubectl: kustomize renders it, and apply (dry run) takes every object.

``kubectl apply`` talks to the fake API server (discovery, OpenAPI, dry-run writes); the commands run are:

    kubectl kustomize deploy/
    kubectl apply --dry-run=client -k deploy/
    kubectl apply --dry-run=server -k deploy/
    kubectl apply --dry-run=client|server -f deploy/examples/service.yaml
    kubectl apply --dry-run=client|server --validate=false -f deploy/examples/gateway.yaml

gateway.yaml goes without client-side validation: kubectl would need the Gateway API's schema, which
the fake does not hold (it stores Gateways, but offers no field check for them).
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from tests.unit.kubernetes.crdcheck import DEPLOY
from tests.unit.kubernetes.kubectl import kustomize, run_kubectl
from tests.unit.kubernetes.test_manifests import render_kustomization

EXAMPLES = DEPLOY / "examples"


def applied_lines(docs: list[dict], suffix: str) -> set[str]:
    """What kubectl prints for each object it creates: ``kind.group/name created (dry run)``."""
    lines = set()
    for doc in docs:
        group = doc["apiVersion"].rpartition("/")[0]
        lines.add(f"{doc['kind'].lower()}{'.' + group if group else ''}/{doc['metadata']['name']} created {suffix}")
    return lines


def docs_of(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_kubectl_kustomize_agrees_with_the_renderer():
    theirs = sorted(json.dumps(d, sort_keys=True) for d in kustomize(DEPLOY))
    assert theirs == sorted(json.dumps(d, sort_keys=True) for d in render_kustomization(DEPLOY))


@pytest.mark.parametrize("mode, suffix", [("client", "(dry run)"), ("server", "(server dry run)")])
async def test_apply_dry_run_takes_every_object_of_deploy(fake, tmp_path, mode, suffix):
    code, out, err = await run_kubectl(tmp_path, fake.url, "apply", f"--dry-run={mode}", "-k", str(DEPLOY))
    assert code == 0, err
    assert set(out.splitlines()) == applied_lines(render_kustomization(DEPLOY), suffix)
    assert all(not objs for objs in fake.objects.values())  # a dry run stores nothing
    if mode == "server":
        posts = [p for m, p in fake.requests if m == "POST"]
        assert len(posts) == len(render_kustomization(DEPLOY))
        assert all("dryRun=All" in p and "fieldValidation=Strict" in p for p in posts)


@pytest.mark.parametrize("mode, suffix", [("client", "(dry run)"), ("server", "(server dry run)")])
async def test_apply_dry_run_takes_the_examples(fake, tmp_path, mode, suffix):
    code, out, err = await run_kubectl(tmp_path, fake.url, "apply", f"--dry-run={mode}", "-f", str(EXAMPLES / "service.yaml"))
    assert code == 0, err
    assert set(out.splitlines()) == applied_lines(docs_of(EXAMPLES / "service.yaml"), suffix)
    code, out, err = await run_kubectl(
        tmp_path, fake.url, "apply", f"--dry-run={mode}", "--validate=false", "-f", str(EXAMPLES / "gateway.yaml")
    )
    assert code == 0, err
    assert set(out.splitlines()) == applied_lines(docs_of(EXAMPLES / "gateway.yaml"), suffix)


async def test_gateway_is_refused_unvalidated_rather_than_passed(fake, tmp_path):
    # the fake holds no Gateway API schema, so kubectl cannot validate a Gateway and says so
    code, _, err = await run_kubectl(tmp_path, fake.url, "apply", "--dry-run=client", "-f", str(EXAMPLES / "gateway.yaml"))
    assert code != 0 and "error validating" in err


def with_unknown_field(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    return doc


@pytest.mark.parametrize("source", ["deploy/controller.yaml", "deploy/examples/service.yaml"])
async def test_server_dry_run_refuses_an_unknown_field(fake, tmp_path, source):
    (doc,) = [d for d in docs_of(DEPLOY.parent / source) if d["kind"] in ("Deployment", "Service") and "template" in d["spec"]]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_unknown_field(doc)))
    code, out, err = await run_kubectl(tmp_path, fake.url, "apply", "--dry-run=server", "-f", str(bad))
    assert code != 0 and out == ""
    assert "strict decoding error" in err and "bogus" in err


async def test_server_dry_run_refuses_an_invalid_value(fake, tmp_path):
    (doc,) = docs_of(EXAMPLES / "service.yaml")
    doc["spec"]["template"]["spec"]["containerConcurrency"] = 1001
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    code, _, err = await run_kubectl(tmp_path, fake.url, "apply", "--dry-run=server", "-f", str(bad))
    assert code != 0 and "is invalid" in err and "1001" in err

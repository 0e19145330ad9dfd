"""The seed article's kubectl walkthrough, word for word with `dataplane` in place of `kubectl`."""

from __future__ import annotations

from tests.seed import LISTING_1, LISTING_2


def cells(line: str) -> list[str]:
    """A table line split on the 3+ space gaps between columns."""
    import re

    return re.split(r"\s{3,}", line.strip())


async def test_walkthrough(control, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(LISTING_1)

    applied = await run("apply -f app.yaml")
    assert (applied.rc, applied.out) == (0, "service.serving.knative.dev/knative-example created\n")
    sent = control.apply_bodies[0]["documents"][0]
    assert sent["spec"]["runLatest"]["configuration"]["revisionTemplate"]["spec"]["container"]["command"] == ["node", "index.js"]
    assert "service/knative-example is ready at http://knative-example.default.example.com" in applied.err

    config = await run("get configuration")
    assert config.rc == 0
    lines = config.out.splitlines()
    assert cells(lines[0]) == ["NAME", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    assert cells(lines[1]) == ["knative-example", "knative-example-00001", "knative-example-00001", "True"]

    revision = await run("get revision")
    lines = revision.out.splitlines()
    assert cells(lines[0]) == ["NAME", "CONFIG NAME", "GENERATION", "READY", "REASON", "ACTUAL REPLICAS", "DESIRED REPLICAS"]
    assert lines[1].split() == ["knative-example-00001", "knative-example", "1", "True", "1", "1"]

    replicaset = await run("get replicaset")
    lines = replicaset.out.splitlines()
    assert cells(lines[0]) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert cells(lines[1]) == ["knative-example-00001-deployment-d65cfb48d", "1", "1", "1", "60m"]

    route = await run("get route")
    lines = route.out.splitlines()
    assert cells(lines[0]) == ["NAME", "URL", "READY", "REASON"]
    assert cells(lines[1]) == ["knative-example", "http://knative-example.default.example.com", "True"]

    pods = await run("get pods")
    lines = pods.out.splitlines()
    assert cells(lines[0]) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    name, ready, status, restarts, age = cells(lines[1])
    assert (name, ready, status, restarts) == ("knative-example-00001-deployment-d65cfb48d-plbrq", "2/2", "Running", "0")
    assert age.endswith("s")

    domain = await run('get route knative-example -ojsonpath="{.status.domain}"')
    assert (domain.rc, domain.out) == (0, "knative-example.default.example.com")

    ip = await run('get svc knative-ingressgateway -n istio-system -ojsonpath="{.status.loadBalancer.ingress[*].ip}"')
    assert (ip.rc, ip.out) == (0, "127.0.0.1")

    control.store["pods"].clear()  # scaled to zero
    idle = await run("get pods")
    assert idle.rc == 0
    assert idle.out.startswith("No resources found")

    (tmp_path / "app.yaml").write_text(LISTING_2)
    updated = await run("apply -f app.yaml")
    assert (updated.rc, updated.out) == (0, "service.serving.knative.dev/knative-example configured\n")
    pods = await run("get pods")
    assert cells(pods.out.splitlines()[1])[0] == "knative-example-00002-deployment-d65cfb48d-plbrq"

    again = await run("apply -f app.yaml")
    assert (again.rc, again.out) == (0, "service.serving.knative.dev/knative-example unchanged\n")

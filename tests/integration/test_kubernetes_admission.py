"""The admission webhook on a cluster: its certificate, its TLS endpoint, and `kubectl apply` refused through it.

The fake API server holds deploy/webhook.yaml's configurations and calls the webhook as
kube-apiserver does (over TLS to ``webhook.knative-serving.svc``, verified with the caBundle the
controller wrote); the real kubectl applies to it.
"""

from __future__ import annotations

import asyncio
import base64
import ssl

import aiohttp
import pytest
import yaml

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.certs import Bundle
from dataplane.platform.kubernetes.leader import LeaseSettings
from dataplane.platform.kubernetes.plane import ControllerPlane, ControllerSettings
from tests.unit.kubernetes.crdcheck import DEPLOY
from tests.unit.kubernetes.kubectl import run_kubectl
from tests.unit.kubernetes.support import eventually, fake, kube  # noqa: F401 - fixtures

SYSTEM = "knative-serving"
HOST = "webhook.knative-serving.svc"
CONFIGURATIONS = [(r.MUTATING_WEBHOOK, "webhook.serving.knative.dev"),
                  (r.VALIDATING_WEBHOOK, "validation.webhook.serving.knative.dev"),
                  (r.VALIDATING_WEBHOOK, "config.webhook.serving.knative.dev")]  # fmt: skip
KINDS = {"Service": r.KUBE_SERVICE, "Secret": r.SECRET, "MutatingWebhookConfiguration": r.MUTATING_WEBHOOK,
         "ValidatingWebhookConfiguration": r.VALIDATING_WEBHOOK}  # fmt: skip


def install_webhook(fake, with_secret: bool = True) -> None:
    """What `kubectl apply -k deploy/` puts in place for the webhook (deploy/webhook.yaml)."""
    for doc in yaml.safe_load_all((DEPLOY / "webhook.yaml").read_text()):
        if doc["kind"] != "Secret" or with_secret:
            fake.put(KINDS[doc["kind"]], doc)


def settings(identity: str = "controller-a") -> ControllerSettings:
    return ControllerSettings(
        lease=LeaseSettings(SYSTEM, identity, lease_duration=2, renew_deadline=1.5, retry_period=0.2),
        bind="127.0.0.1",
        port=0,
        informer_options={"backoff": (0.05, 0.2)},
        webhook_port=0,
    )


@pytest.fixture
async def plane(fake, kube):
    install_webhook(fake)
    plane = ControllerPlane(kube, settings())
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(plane.run(stop))
    await eventually(lambda: (plane.leading and plane.webhook_port) or task.done(), timeout=10)
    fake.webhooks.services[(SYSTEM, "webhook")] = ("127.0.0.1", plane.webhook_port)
    await eventually(lambda: all(ca_bundles(fake)))
    yield plane
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


def ca_bundles(fake) -> list[str | None]:
    found = []
    for res, name in CONFIGURATIONS:
        for hook in fake.get(res, "", name)["webhooks"]:
            found.append(hook["clientConfig"].get("caBundle"))
    return found


def stored_bundle(fake) -> Bundle:
    bundle = Bundle.from_secret(fake.get(r.SECRET, SYSTEM, "webhook-certs"))
    assert bundle is not None
    return bundle


def review(obj: dict, operation: str = "CREATE") -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "4f1c", "operation": operation, "object": obj, "oldObject": None}}  # fmt: skip


async def post_review(port: int, path: str, doc: dict, context: ssl.SSLContext, host: str = HOST) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"https://127.0.0.1:{port}{path}", json=doc, ssl=context, server_hostname=host) as resp:
            return resp.status, await resp.json()


def bad_service() -> dict:
    doc = yaml.safe_load((DEPLOY / "examples" / "service.yaml").read_text())
    doc["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}}
    doc["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsNonroot": True}
    return doc


async def test_the_controller_makes_a_certificate_serves_tls_with_it_and_writes_the_ca_bundle(fake, plane):
    bundle = stored_bundle(fake)
    assert ca_bundles(fake) == [base64.b64encode(bundle.ca).decode()] * 3
    context = ssl.create_default_context(cadata=bundle.ca.decode())  # verifies the chain and the name

    doc = review({**bad_service(), "metadata": {"name": "knative-example", "namespace": "default"}})
    status, answer = await post_review(plane.webhook_port, "/validation", doc, context)
    assert status == 200
    response = answer["response"]
    assert response["uid"] == "4f1c" and response["allowed"] is False
    assert response["status"]["code"] == 422 and response["status"]["reason"] == "Invalid"
    assert [c["field"] for c in response["status"]["details"]["causes"]] == [  # unknown fields first, as admit finds them
        "spec.template.spec.containers[0].securityContext.runAsNonroot",
        "spec.template.metadata.annotations[autoscaling.knative.dev/class]",
    ]
    status, answer = await post_review(plane.webhook_port, "/defaulting", doc, context)
    assert answer["response"]["allowed"] is True and answer["response"]["patchType"] == "JSONPatch"

    # a client that trusts another CA, or reaches it by a name not in the certificate, is turned away by TLS
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await post_review(plane.webhook_port, "/validation", doc, ssl.create_default_context())
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await post_review(plane.webhook_port, "/validation", doc, context, host="evil.example.com")
    # not a review: 400, and nothing else is served
    async with aiohttp.ClientSession() as session:
        async with session.post(f"https://127.0.0.1:{plane.webhook_port}/validation", data=b"{", ssl=context,
                                server_hostname=HOST, headers={"Content-Type": "application/json"}) as resp:  # fmt: skip
            assert resp.status == 400
        async with session.get(f"https://127.0.0.1:{plane.webhook_port}/directory", ssl=context, server_hostname=HOST) as resp:
            assert resp.status == 404  # the directory is on the plain port only


async def test_a_second_replica_takes_the_stored_certificate_and_a_bad_one_is_replaced(fake, kube):
    install_webhook(fake, with_secret=False)  # no Secret at all: the controller creates it
    a, b = ControllerPlane(kube, settings("controller-a")), ControllerPlane(kube, settings("controller-b"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task_a = loop.create_task(a.run(stop))
    await eventually(lambda: a.webhook_port, timeout=10)
    first = stored_bundle(fake)
    task_b = loop.create_task(b.run(stop))
    try:
        await eventually(lambda: b.webhook_port, timeout=10)
        assert stored_bundle(fake) == first  # b used what a wrote
        for plane in (a, b):
            context = ssl.create_default_context(cadata=first.ca.decode())
            status, _ = await post_review(plane.webhook_port, "/validation", review({"kind": "Pod"}), context)
            assert status == 200
    finally:
        stop.set()
    assert await asyncio.wait_for(asyncio.gather(task_a, task_b), 10) == [0, 0]

    # a Secret holding something that is not a certificate for the Service is replaced, and the CA re-injected
    fake.put(r.SECRET, {**fake.get(r.SECRET, SYSTEM, "webhook-certs"), "data": {"ca-cert.pem": "bm9wZQ=="}})
    c = ControllerPlane(kube, settings("controller-c"))
    stop = asyncio.Event()
    task_c = loop.create_task(c.run(stop))
    await eventually(lambda: c.webhook_port, timeout=10)
    renewed = stored_bundle(fake)
    assert renewed != first
    try:
        await eventually(lambda: ca_bundles(fake) == [base64.b64encode(renewed.ca).decode()] * 3)
    finally:
        stop.set()
    assert await asyncio.wait_for(task_c, 10) == 0


async def test_kubectl_apply_of_an_invalid_service_is_refused_with_the_field_paths(fake, plane, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(bad_service()))
    code, out, err = await run_kubectl(tmp_path, fake.url, "apply", "-f", str(bad))
    assert code != 0 and out == ""
    # kubectl prints a 422 with causes as one line per field
    lines = err.splitlines()
    assert lines[0] == 'The Service "knative-example" is invalid: '
    assert lines[1] == '* spec.template.spec.containers[0].securityContext.runAsNonroot: unknown field; did you mean "runAsNonRoot"?'
    assert lines[2].startswith(
        '* spec.template.metadata.annotations[autoscaling.knative.dev/class]: "hpa.autoscaling.knative.dev" is not supported'
    )
    assert fake.get(r.SERVICE, "default", "knative-example") is None

    # the valid one is stored defaulted, as Knative's webhook leaves it
    code, out, err = await run_kubectl(tmp_path, fake.url, "apply", "-f", str(DEPLOY / "examples" / "service.yaml"))
    assert code == 0, err
    assert out.strip() == "service.serving.knative.dev/knative-example created"
    stored = fake.get(r.SERVICE, "default", "knative-example")
    assert stored["spec"]["template"]["spec"]["containerConcurrency"] == 0
    assert stored["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]
    # the controller's own writes pass the same webhooks
    await eventually(lambda: fake.get(r.REVISION, "default", "knative-example-00001"), timeout=10)
    assert ("validation.webhook.serving.knative.dev", "CREATE") in fake.webhooks.calls

    # an update is judged too, against what is stored
    changed = yaml.safe_load((DEPLOY / "examples" / "service.yaml").read_text())
    changed["spec"]["template"]["metadata"] = {"annotations": {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}}
    bad.write_text(yaml.safe_dump(changed))
    code, _, err = await run_kubectl(tmp_path, fake.url, "apply", "-f", str(bad))
    assert code != 0 and "spec.template.metadata.annotations[autoscaling.knative.dev/class]" in err
    assert ("validation.webhook.serving.knative.dev", "UPDATE") in fake.webhooks.calls
    assert fake.get(r.SERVICE, "default", "knative-example")["spec"] == stored["spec"]


async def test_kubectl_apply_of_a_bad_platform_configmap_is_refused_naming_the_key(fake, plane, tmp_path):
    cm = yaml.safe_load((DEPLOY / "config" / "config-autoscaler.yaml").read_text())
    cm["data"]["stable-window"] = "2s"
    bad = tmp_path / "cm.yaml"
    bad.write_text(yaml.safe_dump(cm))
    code, _, err = await run_kubectl(tmp_path, fake.url, "apply", "-f", str(bad))
    assert code != 0
    # one cause: kubectl puts it on the same line
    assert err.strip() == 'The ConfigMap "config-autoscaler" is invalid: data[stable-window]: must be in [6s, 1h] in whole seconds, got 2s'
    assert fake.get(r.CONFIGMAP, SYSTEM, "config-autoscaler") is None
    cm["data"]["stable-window"] = "90s"
    bad.write_text(yaml.safe_dump(cm))
    code, _, err = await run_kubectl(tmp_path, fake.url, "apply", "-f", str(bad))
    assert code == 0, err
    await eventually(lambda: plane.platform.current.api.autoscaler.stable_window == 90)


async def test_a_configmap_that_got_in_keeps_the_last_good_settings_and_says_so_in_an_event(fake, plane):
    good = yaml.safe_load((DEPLOY / "config" / "config-gc.yaml").read_text())
    good["data"]["min-non-active-revisions"] = "3"
    fake.put(r.CONFIGMAP, good)  # straight into storage, as if the webhook had been away
    await eventually(lambda: plane.platform.current.api.gc.min_non_active_revisions == 3)
    bad = {**good, "data": {"min-non-active-revisions": "many"}}
    fake.put(r.CONFIGMAP, bad)
    (event,) = await eventually(lambda: fake.items(r.EVENT, SYSTEM))
    assert (event["type"], event["reason"]) == ("Warning", "InvalidConfiguration")
    assert event["message"] == 'config-gc: min-non-active-revisions: not an integer: "many"; keeping the last good settings'
    cm = fake.get(r.CONFIGMAP, SYSTEM, "config-gc")
    assert event["involvedObject"] == {"apiVersion": "v1", "kind": "ConfigMap", "name": "config-gc", "namespace": SYSTEM,
                                       "uid": cm["metadata"]["uid"], "resourceVersion": cm["metadata"]["resourceVersion"]}  # fmt: skip
    assert plane.platform.current.api.gc.min_non_active_revisions == 3  # the last good settings
    assert plane.synced and plane.leading  # nothing crashed


async def test_with_the_webhook_down_kubectl_apply_is_refused_not_let_through(fake, plane, tmp_path):
    fake.webhooks.services[(SYSTEM, "webhook")] = ("127.0.0.1", 1)  # no controller answers there
    code, _, err = await run_kubectl(tmp_path, fake.url, "apply", "-f", str(DEPLOY / "examples" / "service.yaml"))
    assert code != 0
    assert 'failed calling webhook "webhook.serving.knative.dev"' in err  # failurePolicy: Fail
    assert fake.get(r.SERVICE, "default", "knative-example") is None

"""The fake API server's admission chain: it calls the webhooks registered with it, as kube-apiserver does.

For a create or update of a resource (not a subresource), every webhook of every
MutatingWebhookConfiguration whose rules, objectSelector and namespaceSelector
match is sent an ``admission.k8s.io/v1`` AdmissionReview and its JSONPatch
applied; then every matching validating webhook. The call goes over TLS to the
webhook's Service (``https://NAME.NAMESPACE.svc:PORT/PATH``), verified against the
configuration's ``caBundle`` for that name; ``services`` says which loopback
address stands for a Service, since the fake has no cluster network. A refusal
becomes the error kube-apiserver answers (``admission webhook "NAME" denied the
request: ...``, the webhook's code, at least 400); a failed call refuses the
write under ``failurePolicy: Fail`` (the v1 default) and is skipped under ``Ignore``.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import uuid

import aiohttp

from dataplane.platform.kubernetes import resources as r
from tests.unit.kubernetes.fakeutil import apply_json_patch


class AdmissionFailure(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        self.code, self.reason, self.message, self.details = code, reason, message, details


class WebhookCaller:
    def __init__(self, fake):
        self.fake = fake
        self.services: dict[tuple[str, str], tuple[str, int]] = {}
        """(namespace, Service name) -> the loopback (host, port) its port reaches."""
        self.calls: list[tuple[str, str]] = []
        """(webhook name, operation) of every call made."""

    async def admit(self, res: r.Resource, operation: str, obj: dict, old: dict | None, namespace: str | None, dry_run: bool) -> dict:
        """``obj`` as the mutating webhooks leave it; ``AdmissionFailure`` when a webhook refuses or fails."""
        obj = copy.deepcopy(obj)
        for config in self.fake.items(r.MUTATING_WEBHOOK):
            for hook in config.get("webhooks") or []:
                if self._matches(hook, res, operation, obj, old, namespace):
                    response = await self._call(hook, res, operation, obj, old, namespace, dry_run)
                    if response is not None and response.get("patch"):
                        assert response.get("patchType") == "JSONPatch", response
                        obj = apply_json_patch(obj, json.loads(base64.b64decode(response["patch"])))
        for config in self.fake.items(r.VALIDATING_WEBHOOK):
            for hook in config.get("webhooks") or []:
                if self._matches(hook, res, operation, obj, old, namespace):
                    await self._call(hook, res, operation, obj, old, namespace, dry_run)
        return obj

    def _matches(self, hook: dict, res: r.Resource, operation: str, obj: dict, old: dict | None, namespace: str | None) -> bool:
        def has(values, value):
            return "*" in values or value in values

        scope = "Namespaced" if res.namespaced else "Cluster"
        if not any(
            has(rule.get("apiGroups") or [], res.group) and has(rule.get("apiVersions") or [], res.version)
            and has(rule.get("operations") or [], operation) and has(rule.get("resources") or [], res.plural)
            and rule.get("scope", "*") in ("*", scope)
            for rule in hook.get("rules") or []
        ):  # fmt: skip
            return False
        labels = [(o.get("metadata") or {}).get("labels") or {} for o in (obj, old) if o]
        if not any(_selects(hook.get("objectSelector"), ls) for ls in labels):
            return False
        if res.namespaced and hook.get("namespaceSelector"):
            stored = self.fake.get(r.Resource("Namespace", "", "v1", "namespaces", namespaced=False), "", namespace) or {}
            ns_labels = {**((stored.get("metadata") or {}).get("labels") or {}), "kubernetes.io/metadata.name": namespace}
            return _selects(hook["namespaceSelector"], ns_labels)
        return True

    async def _call(self, hook, res, operation, obj, old, namespace, dry_run) -> dict | None:
        name = hook["name"]
        self.calls.append((name, operation))
        client = hook.get("clientConfig") or {}
        service = client.get("service") or {}
        port = service.get("port", 443)
        url = f"https://{service.get('name')}.{service.get('namespace')}.svc:{port}{service.get('path', '/')}"
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "kind": {"group": res.group, "version": res.version, "kind": res.kind},
                "resource": {"group": res.group, "version": res.version, "resource": res.plural},
                "requestKind": {"group": res.group, "version": res.version, "kind": res.kind},
                "name": obj["metadata"].get("name", ""),
                "namespace": namespace or "",
                "operation": operation,
                "userInfo": {"username": "tests"},
                "object": obj,
                "oldObject": old,
                "dryRun": dry_run,
            },
        }
        try:
            if "url" in client or (service.get("namespace"), service.get("name")) not in self.services:
                raise OSError(f"no address for {url}")  # the fake only reaches registered Services
            host, real_port = self.services[(service["namespace"], service["name"])]
            context = ssl.create_default_context()
            bundle = client.get("caBundle")
            if bundle:
                context = ssl.create_default_context(cadata=base64.b64decode(bundle).decode())
            timeout = aiohttp.ClientTimeout(total=hook.get("timeoutSeconds", 10))
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(
                    f"https://{host}:{real_port}{service.get('path', '/')}", json=review, ssl=context,
                    server_hostname=f"{service['name']}.{service['namespace']}.svc",
                ) as resp:  # fmt: skip
                    if resp.status != 200:
                        raise OSError(f"received invalid webhook response: status {resp.status}: {await resp.text()}")
                    answer = await resp.json()
            response = answer["response"]
            if response.get("uid") != review["request"]["uid"]:
                raise OSError("expected response.uid to match the request")
        except (OSError, aiohttp.ClientError, KeyError, ValueError, TimeoutError) as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return None
            raise AdmissionFailure(
                500, "InternalError", f'Internal error occurred: failed calling webhook "{name}": failed to call webhook: Post "{url}": {exc}'
            ) from None
        if response.get("allowed"):
            return response
        status = response.get("status") or {}
        why = status.get("message") or status.get("reason")
        message = f'admission webhook "{name}" denied the request' + (f": {why}" if why else " without explanation")
        raise AdmissionFailure(max(int(status.get("code") or 400), 400), status.get("reason") or "", message, status.get("details"))


def _selects(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against ``labels``; empty selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True

"""What the fake API server says about itself: discovery, OpenAPI v3 paths, and strict field validation.

Discovery is the legacy (unaggregated) form: ``/api``, ``/apis``, ``/api/v1`` and ``/apis/GROUP/VERSION``
list exactly the kinds the fake stores. The OpenAPI v3 documents describe each resource's operations and
their query parameters (no component schemas): kubectl reads them to learn that the server checks fields
itself (``fieldValidation`` on PATCH), so it does not need the schemas to validate client-side. The fake
advertises ``fieldValidation`` only for kinds it holds a schema for, and then honours it
(``field_errors``): Kubernetes' own kinds against Kubernetes' published schemas (kubernetes-validate),
the serving.knative.dev kinds against the CRDs in deploy/crds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import kubernetes_validate

from dataplane.platform.kubernetes import resources as r
from tests.unit.kubernetes.crdcheck import crd_problems

KUBERNETES_VERSION = "1.33"
"""The version the fake answers as (``/version``) and whose schemas it checks Kubernetes' kinds against."""


def gv_path(res: r.Resource) -> str:
    """``api/v1`` or ``apis/GROUP/VERSION``: the group-version's discovery path and OpenAPI v3 key."""
    return f"apis/{res.group}/{res.version}" if res.group else f"api/{res.version}"


def version_info() -> dict:
    major, minor = KUBERNETES_VERSION.split(".")
    return {"major": major, "minor": minor, "gitVersion": f"v{KUBERNETES_VERSION}.0", "platform": "linux/amd64"}


def api_versions(host: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }


def api_groups(kinds: Iterable) -> dict:
    versions: dict[str, list[str]] = {}
    for kind in kinds:
        res = kind.resource
        if res.group and res.version not in versions.setdefault(res.group, []):
            versions[res.group].append(res.version)
    groups = []
    for group, vs in sorted(versions.items()):
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in vs]
        groups.append({"name": group, "versions": listed, "preferredVersion": listed[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_resources(kinds: Iterable, group: str, version: str) -> dict | None:
    """The APIResourceList of one group-version, or None when the fake serves none of it."""
    entries = []
    for kind in kinds:
        res = kind.resource
        if (res.group, res.version) != (group, version):
            continue
        entries.append(
            {
                "name": res.plural,
                "singularName": res.kind.lower(),
                "namespaced": res.namespaced,
                "kind": res.kind,
                "verbs": VERBS,
            }
        )
        if kind.status:
            entries.append(
                {"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced, "kind": res.kind,
                 "verbs": ["get", "patch", "update"]}
            )  # fmt: skip
        if kind.scale:
            entries.append(
                {"name": f"{res.plural}/scale", "singularName": "", "namespaced": res.namespaced, "kind": "Scale",
                 "group": "autoscaling", "version": "v1", "verbs": ["get", "patch", "update"]}
            )  # fmt: skip
    if not entries:
        return None
    api_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": entries}


def _parameter(name: str) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "string"}}


def openapi_document(kinds: Iterable, key: str) -> dict | None:
    """The OpenAPI v3 document of one group-version (``api/v1``, ``apis/apps/v1``): its paths and parameters."""
    paths = {}
    for kind in kinds:
        res = kind.resource
        if gv_path(res) != key:
            continue
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        writes = ["dryRun", "fieldManager"] + (["fieldValidation"] if kind.schema else [])
        collection = f"/{key}" + ("/namespaces/{namespace}" if res.namespaced else "") + f"/{res.plural}"
        item = collection + "/{name}"
        ext = {"x-kubernetes-group-version-kind": gvk}
        paths[collection] = {
            "get": {"operationId": f"list{res.kind}", **ext, "x-kubernetes-action": "list", "parameters": []},
            "post": {"operationId": f"create{res.kind}", **ext, "x-kubernetes-action": "post",
                     "parameters": [_parameter(p) for p in writes]},
        }  # fmt: skip
        paths[item] = {
            "get": {"operationId": f"read{res.kind}", **ext, "x-kubernetes-action": "get", "parameters": []},
            "put": {"operationId": f"replace{res.kind}", **ext, "x-kubernetes-action": "put",
                    "parameters": [_parameter(p) for p in writes]},
            "patch": {"operationId": f"patch{res.kind}", **ext, "x-kubernetes-action": "patch",
                      "parameters": [_parameter(p) for p in [*writes, "force"]]},
            "delete": {"operationId": f"delete{res.kind}", **ext, "x-kubernetes-action": "delete",
                       "parameters": [_parameter("dryRun")]},
        }  # fmt: skip
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{KUBERNETES_VERSION}.0"}, "paths": paths}


def openapi_root(kinds: list) -> dict:
    """``/openapi/v3``: where each group-version's document is, with a hash of its content as the real one gives."""
    out = {}
    for key in sorted({gv_path(k.resource) for k in kinds}):
        digest = hashlib.sha512(json.dumps(openapi_document(kinds, key), sort_keys=True).encode()).hexdigest().upper()
        out[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": out}


class FieldError(Exception):
    """A problem ``fieldValidation`` finds: an undeclared field (``unknown``: 400 when Strict) or an invalid value (422)."""

    def __init__(self, message: str, unknown: bool):
        super().__init__(message)
        self.message, self.unknown = message, unknown


def field_errors(schema: str, body: dict) -> list[FieldError]:
    """What strict field validation finds wrong with ``body``; ``schema`` is the kind's ``Kind.schema``."""
    if schema == "crd":
        return [FieldError(p, unknown=p.endswith("would be pruned")) for p in crd_problems(body)]
    try:
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        caught = exc  # the jsonschema error, copied over
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in caught.absolute_path).lstrip(".")
        if caught.validator == "additionalProperties":
            names = [n for n in caught.instance if n not in caught.schema.get("properties", {})]
            return [FieldError(f'unknown field "{where}.{n}"' if where else f'unknown field "{n}"', unknown=True) for n in names]
        return [FieldError(f"{where}: {caught.message}", unknown=False)]
    return []

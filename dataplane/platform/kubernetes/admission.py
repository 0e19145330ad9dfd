"""Admission reviews (``admission.k8s.io/v1``): what the webhook answers, as pure functions of the request.

Three hooks, as Knative's webhook has them:

- ``defaulting`` (mutating): a Service, Configuration, Route or Revision gets
  what ``admit`` defaults, as a JSONPatch against the object sent;
- ``validation``: ``admit`` on the object (strict decoding, validation) and,
  for an UPDATE, the update rules against the defaulted old object;
- ``config-validation``: the platform ConfigMaps through the parsers the
  components load them with (``dataplane.api.config.check_configmap``).

A refusal is a ``Status`` 422 ``Invalid`` whose message lists every field
error as the local control API does (``path: message``), with one cause per
error. The API server adds ``admission webhook "NAME" denied the request: ``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from dataplane.api import ConfigError, FieldError, ValidationError, admit, default_resource, keys
from dataplane.api.config import Config, check_configmap

REVIEW_API_VERSION = "admission.k8s.io/v1"
DEFAULTING, VALIDATION, CONFIG_VALIDATION = "defaulting", "validation", "config-validation"
HOOKS = (DEFAULTING, VALIDATION, CONFIG_VALIDATION)
_WRITES = ("CREATE", "UPDATE")


class ReviewError(ValueError):
    """The body is not an AdmissionReview this webhook can answer (HTTP 400)."""


def parse_review(body: bytes) -> dict:
    """The ``request`` of an AdmissionReview; ``ReviewError`` says what is wrong with the body."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReviewError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "AdmissionReview":
        raise ReviewError("expected an AdmissionReview")
    if doc.get("apiVersion") != REVIEW_API_VERSION:
        raise ReviewError(f"apiVersion must be {REVIEW_API_VERSION}, got {doc.get('apiVersion')!r}")
    request = doc.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str) or not request["uid"]:
        raise ReviewError("request.uid is required")
    for field in ("object", "oldObject"):
        if request.get(field) is not None and not isinstance(request[field], dict):
            raise ReviewError(f"request.{field} must be an object")
    return request


def review(hook: str, request: Mapping, cfg: Config) -> dict:
    """The whole AdmissionReview answering ``request`` for ``hook``."""
    if hook == DEFAULTING:
        response = defaulting(request, cfg)
    elif hook == VALIDATION:
        response = validation(request, cfg)
    else:
        response = config_validation(request)
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "response": {"uid": request["uid"], **response}}


def _ours(request: Mapping) -> dict | None:
    """The object under review when it is a written serving.knative.dev/v1 object, else None (not ours to judge)."""
    obj = request.get("object")
    if request.get("operation") not in _WRITES or not isinstance(obj, dict):
        return None
    if obj.get("apiVersion") != keys.API_VERSION or obj.get("kind") not in keys.KINDS:
        return None
    return obj


def defaulting(request: Mapping, cfg: Config) -> dict:
    """Allowed, with a JSONPatch to the defaulted object when defaulting changes anything."""
    obj = _ours(request)
    if obj is None:
        return {"allowed": True}
    defaulted = default_resource(obj, cfg)
    ops = json_patch(_without_status(obj), _without_status(defaulted))
    if not ops:
        return {"allowed": True}
    return {"allowed": True, "patchType": "JSONPatch", "patch": base64.b64encode(orjson.dumps(ops)).decode()}


def validation(request: Mapping, cfg: Config) -> dict:
    """Allowed, or refused with every field error of the object (and of the change, for an UPDATE)."""
    obj = _ours(request)
    if obj is None:
        return {"allowed": True}
    old = request.get("oldObject") if request.get("operation") == "UPDATE" else None
    previous = default_resource(old, cfg) if isinstance(old, dict) else None
    try:
        admit(obj, cfg, previous=previous)
    except ValidationError as exc:
        return refusal(exc.errors, obj)
    return {"allowed": True}


def config_validation(request: Mapping) -> dict:
    """Allowed, or refused naming the key when a platform ConfigMap would not load."""
    obj = request.get("object")
    if request.get("operation") not in _WRITES or not isinstance(obj, dict) or obj.get("kind") != "ConfigMap":
        return {"allowed": True}
    name = (obj.get("metadata") or {}).get("name")
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        return refusal([FieldError("data", "must be a mapping of strings")], obj)
    try:
        check_configmap(name, data)
    except ConfigError as exc:
        return refusal([FieldError(f"data[{exc.key}]", exc.message)], obj)
    return {"allowed": True}


def refusal(errors: tuple[FieldError, ...] | list[FieldError], obj: Mapping) -> dict:
    """A 422 ``Invalid`` Status listing ``errors``, one cause per field."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    return {
        "allowed": False,
        "status": {
            "status": "Failure",
            "code": ValidationError.http_status,
            "reason": ValidationError.reason,
            "message": "\n".join(str(e) for e in errors),
            "details": {
                "name": str(meta.get("name") or ""),
                "kind": str(obj.get("kind") or ""),
                "causes": [{"reason": "FieldValueInvalid", "field": e.path, "message": e.message} for e in errors],
            },
        },
    }


def _without_status(obj: Any) -> Any:
    return {k: v for k, v in obj.items() if k != "status"} if isinstance(obj, dict) else obj


def json_patch(old: Any, new: Any, path: str = "") -> list[dict]:
    """RFC 6902 operations turning ``old`` into ``new``: maps key by key, anything else replaced whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict] = []
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in new.items():
            where = f"{path}/{_escape(key)}"
            if key not in old:
                ops.append({"op": "add", "path": where, "value": value})
            else:
                ops += json_patch(old[key], value, where)
        return ops
    if old == new and type(old) is type(new):
        return []
    return [{"op": "replace", "path": path, "value": new}]


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")

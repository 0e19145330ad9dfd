"""Bring ``serving.knative.dev/v1alpha1`` (and ``v1beta1``) objects to ``v1``.

v1alpha1 was removed from Knative, but manifests written for it (the
``runLatest``/``pinned``/``release`` Service modes, ``revisionTemplate``, a
single ``container``) still circulate; they are mapped the way Knative's old
conversion webhook did.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from . import keys
from .checks import bounds_message, dns1035_label_problem, is_int, quote
from .errors import FieldError, join, raise_if_any

LATEST_KEYWORD = "@latest"
_MODES = ("runLatest", "release", "pinned", "manual")
_API_VERSIONS = (keys.API_VERSION, keys.API_VERSION_V1BETA1, keys.API_VERSION_V1ALPHA1)


def check_type(obj: Any, allowed_versions: tuple[str, ...] = _API_VERSIONS) -> list[FieldError]:
    """Errors for a non-object, or an ``apiVersion``/``kind`` this API does not serve."""
    if not isinstance(obj, Mapping):
        return [FieldError("", f"a resource must be a mapping, got {type(obj).__name__}")]
    errs = []
    version, kind = obj.get("apiVersion"), obj.get("kind")
    if version not in allowed_versions:
        errs.append(FieldError("apiVersion", f"unsupported apiVersion {quote(version)}: expected "
                                             + " or ".join(allowed_versions)))
    if kind not in keys.KINDS:
        errs.append(FieldError("kind", f"unknown kind {quote(kind)}: expected one of " + ", ".join(keys.KINDS)))
    return errs


def to_v1(obj: Any) -> dict:
    """Return a ``serving.knative.dev/v1`` copy of ``obj``; v1 input comes back unchanged.

    Raises :class:`ValidationError` for unknown kinds or versions and for
    v1alpha1 shapes with no v1 equivalent (``spec.manual``).
    """
    raise_if_any(check_type(obj))
    out = copy.deepcopy(dict(obj))
    version = out["apiVersion"]
    out["apiVersion"] = keys.API_VERSION
    if version != keys.API_VERSION_V1ALPHA1:
        return out  # v1beta1 has exactly the v1 shape
    errs: list[FieldError] = []
    kind = out["kind"]
    spec = out.get("spec")
    if isinstance(spec, Mapping):
        if kind == keys.SERVICE:
            out["spec"] = _service_spec(spec, errs)
        elif kind == keys.CONFIGURATION:
            out["spec"] = _configuration_spec(spec, "spec", errs)
        elif kind == keys.REVISION:
            out["spec"] = _revision_spec(spec, "spec", errs)
        else:
            out["spec"] = _route_spec(spec, "spec", errs)
    if kind in (keys.SERVICE, keys.ROUTE) and isinstance(out.get("status"), Mapping):
        out["status"] = _route_status(out["status"])
    raise_if_any(errs)
    return out


# The oldest v1alpha1 spelling of the concurrency limit.
_CONCURRENCY_MODELS = {"Single": 1, "Multi": 0}
# Deprecated RevisionSpec fields that no longer mean anything.
_OBSOLETE_REVISION_FIELDS = ("generation", "servingState")


def _revision_spec(spec: Mapping, path: str, errs: list[FieldError]) -> dict:
    out = {k: v for k, v in spec.items() if k not in _OBSOLETE_REVISION_FIELDS}
    if "concurrencyModel" in out:
        model = out.pop("concurrencyModel")
        if model not in _CONCURRENCY_MODELS:
            errs.append(FieldError(join(path, "concurrencyModel"),
                                   f"invalid value {quote(model)}: expected Single or Multi"))
        else:
            out.setdefault("containerConcurrency", _CONCURRENCY_MODELS[model])
    if "buildRef" in out:
        errs.append(FieldError(join(path, "buildRef"), "Knative Build references cannot be converted to v1"))
    if "container" in out:
        container = out.pop("container")
        if "containers" in out:
            errs.append(FieldError(path, "expected exactly one of container, containers; got both"))
        else:
            out["containers"] = [container]
    return out


def _template(template: Any, path: str, errs: list[FieldError]) -> Any:
    if not isinstance(template, Mapping):
        return template  # v1 validation reports the bad shape
    out = dict(template)
    if isinstance(out.get("spec"), Mapping):
        out["spec"] = _revision_spec(out["spec"], join(path, "spec"), errs)
    return out


def _configuration_spec(spec: Mapping, path: str, errs: list[FieldError]) -> dict:
    out = dict(spec)
    if "build" in out:
        errs.append(FieldError(join(path, "build"),
                               "Knative Build cannot be converted to v1; build the image first"))
        out.pop("build")
    if "revisionTemplate" in out:
        legacy = out.pop("revisionTemplate")
        if "template" in out:
            errs.append(FieldError(path, "expected exactly one of revisionTemplate, template; got both"))
        else:
            out["template"] = _template(legacy, join(path, "revisionTemplate"), errs)
            return out
    if "template" in out:
        out["template"] = _template(out["template"], join(path, "template"), errs)
    return out


def _traffic_target(target: Any, path: str, errs: list[FieldError]) -> Any:
    if not isinstance(target, Mapping) or "name" not in target:
        return target
    out = dict(target)
    name = out.pop("name")
    if "tag" in out:
        errs.append(FieldError(path, "expected exactly one of name, tag; got both"))
    else:
        out["tag"] = name
    return out


def _route_spec(spec: Mapping, path: str, errs: list[FieldError]) -> dict:
    out = dict(spec)
    if isinstance(out.get("traffic"), list):
        out["traffic"] = [_traffic_target(t, f"{path}.traffic[{i}]", errs) for i, t in enumerate(out["traffic"])]
    return out


def _mode_configuration(mode_spec: Mapping, path: str, errs: list[FieldError]) -> Any:
    configuration = mode_spec.get("configuration")
    if not isinstance(configuration, Mapping):
        errs.append(FieldError(join(path, "configuration"), "is required and must be a mapping"))
        return {}
    return _configuration_spec(configuration, join(path, "configuration"), errs).get("template", {})


def _release_traffic(release: Mapping, errs: list[FieldError]) -> list[dict]:
    path = "spec.release"
    revisions = release.get("revisions")
    rollout = release.get("rolloutPercent", 0)
    if not isinstance(revisions, list) or not revisions:
        errs.append(FieldError(join(path, "revisions"), "is required: one or two revision names"))
        return []
    if len(revisions) > 2:
        errs.append(FieldError(join(path, "revisions"), bounds_message(len(revisions), 1, 2) + " revisions"))
        return []
    for i, name in enumerate(revisions):
        problem = None if name == LATEST_KEYWORD else dns1035_label_problem(name)
        if problem:
            errs.append(FieldError(f"{path}.revisions[{i}]", problem))
    if not is_int(rollout) or not 0 <= rollout <= 99:
        errs.append(FieldError(join(path, "rolloutPercent"), bounds_message(rollout, 0, 99)))
        return []
    if len(revisions) == 1 and rollout != 0:
        errs.append(FieldError(join(path, "rolloutPercent"), "needs a second (candidate) revision to roll out to"))
        return []
    if len(revisions) == 2:
        traffic = [{"tag": "current", "revisionName": revisions[0], "percent": 100 - rollout},
                   {"tag": "candidate", "revisionName": revisions[1], "percent": rollout}]
    else:
        traffic = [{"tag": "current", "revisionName": revisions[0], "percent": 100}]
    traffic.append({"tag": "latest", "latestRevision": True})
    for target in traffic:
        if target.get("revisionName") == LATEST_KEYWORD:
            del target["revisionName"]
            target["latestRevision"] = True
    return traffic


def _service_spec(spec: Mapping, errs: list[FieldError]) -> dict:
    modes = [m for m in _MODES if m in spec]
    inline = "template" in spec or "revisionTemplate" in spec
    choices = "runLatest, release, pinned, manual, template"
    if len(modes) + inline > 1:
        errs.append(FieldError("spec", f"expected exactly one of {choices}; got "
                                       + ", ".join(modes + (["template"] if inline else []))))
        return dict(spec)
    if modes and "traffic" in spec:
        errs.append(FieldError("spec", f"traffic cannot be combined with {modes[0]}"))
        return dict(spec)
    if inline:
        out = _configuration_spec(spec, "spec", errs)
        return _route_spec(out, "spec", errs)
    if not modes:
        errs.append(FieldError("spec", f"expected exactly one of {choices}"))
        return dict(spec)
    mode = modes[0]
    body = spec[mode]
    path = f"spec.{mode}"
    if mode == "manual":
        errs.append(FieldError(path, "manual mode cannot be converted to serving.knative.dev/v1: "
                                     "manage a Configuration and a Route directly instead"))
        return dict(spec)
    if not isinstance(body, Mapping):
        errs.append(FieldError(path, "must be a mapping"))
        return dict(spec)
    template = _mode_configuration(body, path, errs)
    if mode == "runLatest":
        traffic = [{"percent": 100, "latestRevision": True}]
    elif mode == "pinned":
        name = body.get("revisionName")
        if not isinstance(name, str) or not name:
            errs.append(FieldError(join(path, "revisionName"), "is required"))
        traffic = [{"revisionName": name, "percent": 100}]
    else:
        traffic = _release_traffic(body, errs)
    return {"template": template, "traffic": traffic}


def _http_url(host: Any) -> Any:
    return f"http://{host}" if isinstance(host, str) and host else None


def _route_status(status: Mapping) -> dict:
    out = dict(status)
    domain = out.pop("domain", None)
    if "url" not in out and _http_url(domain):
        out["url"] = _http_url(domain)
    internal = out.pop("domainInternal", None)
    address = dict(out["address"]) if isinstance(out.get("address"), Mapping) else {}
    hostname = address.pop("hostname", None) or internal
    if "url" not in address and _http_url(hostname):
        address["url"] = _http_url(hostname)
    if address:
        out["address"] = address
    if isinstance(out.get("traffic"), list):
        out["traffic"] = [_traffic_target(t, "", []) for t in out["traffic"]]
    return out



# --- where a v1 path came from in a v1alpha1 object ----------------------------------------------

PathMap = list[tuple[str, str]]
"""(v1 path prefix, the prefix as the user wrote it), as :func:`source_paths` returns."""


def source_paths(obj: Any) -> PathMap:
    """How the paths of ``to_v1(obj)`` map back to ``obj``; empty unless ``obj`` is v1alpha1.

    Mirrors the choices :func:`to_v1` makes, so that a validation error about
    the converted object names the field the user wrote.
    """
    if not isinstance(obj, Mapping) or obj.get("apiVersion") != keys.API_VERSION_V1ALPHA1:
        return []
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    kind = obj.get("kind")
    found: PathMap = []
    if kind == keys.REVISION:
        _revision_paths(spec, "spec", "spec", found)
    elif kind == keys.CONFIGURATION:
        _configuration_paths(spec, "spec", found)
    elif kind == keys.ROUTE:
        _traffic_paths(spec.get("traffic"), "spec.traffic", found)
    elif kind == keys.SERVICE:
        modes = [m for m in _MODES if m in spec]
        body = spec.get(modes[0]) if len(modes) == 1 else None
        if isinstance(body, Mapping):
            mode = f"spec.{modes[0]}"
            if isinstance(body.get("configuration"), Mapping):
                _configuration_paths(body["configuration"], join(mode, "configuration"), found)
            if modes[0] == "pinned":
                found.append(("spec.traffic[0].revisionName", join(mode, "revisionName")))
            elif modes[0] == "release" and isinstance(body.get("revisions"), list):
                found += [(f"spec.traffic[{i}].revisionName", f"{mode}.revisions[{i}]")
                          for i in range(len(body["revisions"]))]
            found.append(("spec.traffic", mode))
        else:
            _configuration_paths(spec, "spec", found)
            _traffic_paths(spec.get("traffic"), "spec.traffic", found)
    return found


def _configuration_paths(spec: Mapping, path: str, found: PathMap) -> None:
    key = "revisionTemplate" if "revisionTemplate" in spec and "template" not in spec else "template"
    template = spec.get(key)
    found.append(("spec.template", join(path, key)))
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        _revision_paths(template["spec"], "spec.template.spec", join(path, f"{key}.spec"), found)


def _revision_paths(spec: Mapping, v1: str, path: str, found: PathMap) -> None:
    if "container" in spec and "containers" not in spec:
        found.append((f"{v1}.containers[0]", join(path, "container")))
    if "concurrencyModel" in spec and "containerConcurrency" not in spec:
        found.append((f"{v1}.containerConcurrency", join(path, "concurrencyModel")))


def _traffic_paths(traffic: Any, path: str, found: PathMap) -> None:
    if isinstance(traffic, list):
        found += [(f"{path}[{i}].tag", f"{path}[{i}].name") for i, t in enumerate(traffic)
                  if isinstance(t, Mapping) and "name" in t and "tag" not in t]


def to_source_path(path: str, paths: PathMap) -> str:
    """``path`` in the converted object, renamed to where it came from (longest matching prefix wins)."""
    best = None
    for v1, source in paths:
        if path == v1 or path.startswith(v1 + ".") or path.startswith(v1 + "["):
            if best is None or len(v1) > len(best[0]):
                best = (v1, source)
    return path if best is None else best[1] + path[len(best[0]):]

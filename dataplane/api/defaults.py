"""Knative's defaulting: fill what users may leave out, so stored objects are explicit.

Defaulting never fails: malformed parts are left as they are for validation
to report. Applying it twice changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from . import keys
from .checks import is_int
from .config import DEFAULT_CONFIG, Config, Defaults
from .containers import serving_container_index, serving_port
from .names import child_name

DEFAULT_NAMESPACE = "default"
_PROBE_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def default_resource(obj: Any, cfg: Config = DEFAULT_CONFIG) -> Any:
    """Return a defaulted copy of a v1 Service, Configuration, Revision or Route."""
    out = _drop_nulls(copy.deepcopy(obj))
    if not isinstance(out, dict):
        return out
    meta = out.setdefault("metadata", {})
    if isinstance(meta, dict) and not meta.get("namespace"):
        meta["namespace"] = DEFAULT_NAMESPACE
    meta = meta if isinstance(meta, Mapping) else {}
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    kind = out.get("kind")
    if kind in (keys.SERVICE, keys.CONFIGURATION):
        _default_template(spec.get("template"), cfg.defaults, meta)
    if kind == keys.SERVICE:
        if not spec.get("traffic"):
            spec["traffic"] = [{"latestRevision": True, "percent": 100}]
        _default_traffic(spec["traffic"])
    elif kind == keys.ROUTE:
        _default_traffic(spec.get("traffic"))
    elif kind == keys.REVISION:
        default_revision_spec(spec, cfg.defaults, meta)
    return out


def _drop_nulls(value: Any) -> Any:
    """Remove null fields, as the Kubernetes API server does when it decodes an object.

    YAML turns ``image: ##NAME##/app`` into a null (the rest is a comment); a
    null is an absent field, never a value to store.
    """
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _default_template(template: Any, defaults: Defaults, parent_meta: Mapping) -> None:
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_revision_spec(template["spec"], defaults, parent_meta)


def _default_traffic(traffic: Any) -> None:
    if not isinstance(traffic, list):
        return
    for target in traffic:
        if isinstance(target, dict) and target.get("latestRevision") is None:
            target["latestRevision"] = not target.get("revisionName")


def default_revision_spec(spec: dict, defaults: Defaults, parent_meta: Mapping) -> None:
    """Default a RevisionSpec in place (timeouts, concurrency, names, probes, mounts)."""
    if spec.get("timeoutSeconds") in (None, 0):
        spec["timeoutSeconds"] = defaults.revision_timeout_seconds
    timeout = spec["timeoutSeconds"]
    if is_int(timeout):
        # Only a cluster default strictly below the revision's own timeout is
        # written, so stock settings (response-start == timeout, idle 0) add nothing.
        for field, default in (("idleTimeoutSeconds", defaults.revision_idle_timeout_seconds),
                               ("responseStartTimeoutSeconds", defaults.revision_response_start_timeout_seconds)):
            if spec.get(field) is None and 0 < default < timeout:
                spec[field] = default
    if spec.get("containerConcurrency") is None:
        spec["containerConcurrency"] = defaults.container_concurrency

    containers = spec.get("containers") if isinstance(spec.get("containers"), list) else []
    inits = spec.get("initContainers") if isinstance(spec.get("initContainers"), list) else []
    taken = {c.get("name") for c in containers + inits if isinstance(c, dict) and c.get("name")}
    _name_containers(containers, taken, defaults.container_name(parent_meta))
    _name_containers(inits, taken, defaults.init_container_name(parent_meta))

    serving = serving_container_index(spec)
    port = serving_port(spec).number
    writable = _writable_volumes(spec.get("volumes"))
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        if i == serving:
            _default_serving_probe(container, port)
        _default_probe_fields(container)
        _default_mounts(container, writable)


def _name_containers(containers: list, taken: set, base: str) -> None:
    suffix = 0
    for container in containers:
        if not isinstance(container, dict) or container.get("name"):
            continue
        name = base
        if len(containers) > 1 or name in taken:
            while True:
                name = child_name(base, f"-{suffix}")
                suffix += 1
                if name not in taken:
                    break
        container["name"] = name


def _default_serving_probe(container: dict, port: int) -> None:
    probe = container.get("readinessProbe")
    if probe is None:
        probe = container["readinessProbe"] = {}
    if not isinstance(probe, dict):
        return
    if not any(probe.get(h) is not None for h in _PROBE_HANDLERS):
        probe["tcpSocket"] = {}
    # An unset probe port means the serving port; writing it keeps the stored object explicit.
    for handler in ("tcpSocket", "httpGet"):
        action = probe.get(handler)
        if isinstance(action, dict) and action.get("port") in (None, 0, ""):
            action["port"] = port


def _default_probe_fields(container: dict) -> None:
    probe = container.get("readinessProbe")
    if isinstance(probe, dict):
        if not probe.get("successThreshold"):
            probe["successThreshold"] = 1
        # Kubernetes' own defaults, applied only outside Knative's periodSeconds: 0 mode.
        if probe.get("periodSeconds"):
            if not probe.get("failureThreshold"):
                probe["failureThreshold"] = 3
            if not probe.get("timeoutSeconds"):
                probe["timeoutSeconds"] = 1
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(kind)
        if isinstance(probe, dict) and isinstance(probe.get("grpc"), dict):
            probe["grpc"].setdefault("service", "")


def _writable_volumes(volumes: Any) -> set:
    if not isinstance(volumes, list):
        return set()
    return {v.get("name") for v in volumes
            if isinstance(v, dict) and ("emptyDir" in v or "persistentVolumeClaim" in v)}


def _default_mounts(container: dict, writable: set) -> None:
    mounts = container.get("volumeMounts")
    if not isinstance(mounts, list):
        return
    for mount in mounts:
        if isinstance(mount, dict) and mount.get("name") not in writable:
            mount["readOnly"] = True

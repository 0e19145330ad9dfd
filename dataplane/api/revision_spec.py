"""Validation of a RevisionSpec: timeouts, concurrency, and the pod spec rules Knative imposes."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from .checks import bounds_message, dns1123_label_problem, dns1123_subdomain_problem, is_int, quote
from .config import Defaults
from .containers import serving_container_index, serving_port
from .errors import FieldError, join
from .probes import validate_probe, validate_readiness_probe

RESERVED_PORTS = frozenset({8012, 8013, 8022, 9090, 9091, 8008})
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"})
RESERVED_SIDECAR_ENV = RESERVED_ENV - {"PORT"}
RESERVED_CONTAINER_NAMES = frozenset({"queue-proxy"})
RESERVED_PATHS = frozenset({"/", "/dev", "/dev/log"})
PORT_NAMES = ("", "http1", "h2c")
VOLUME_SOURCES = ("secret", "configMap", "projected", "emptyDir")
_WRITABLE_SOURCES = ("emptyDir", "persistentVolumeClaim")


def validate_revision_spec(spec: Any, path: str, defaults: Defaults) -> list[FieldError]:
    """All problems with a RevisionSpec found at ``path`` (e.g. ``spec.template.spec``)."""
    if not isinstance(spec, Mapping):
        return [FieldError(path, "is required and must be a mapping")]
    errs = _timeouts(spec, path, defaults)
    cc = spec.get("containerConcurrency")
    if cc is not None:
        low = 0 if defaults.allow_container_concurrency_zero else 1
        if not is_int(cc) or not low <= cc <= defaults.container_concurrency_max_limit:
            errs.append(FieldError(join(path, "containerConcurrency"),
                                   bounds_message(cc, low, defaults.container_concurrency_max_limit)))
    errs += _pod_spec(spec, path)
    return errs


def _timeouts(spec: Mapping, path: str, defaults: Defaults) -> list[FieldError]:
    errs = []
    timeout = spec.get("timeoutSeconds")
    if timeout is not None and (not is_int(timeout) or not 0 <= timeout <= defaults.max_revision_timeout_seconds):
        errs.append(FieldError(join(path, "timeoutSeconds"),
                               bounds_message(timeout, 0, defaults.max_revision_timeout_seconds)))
    limit = timeout if is_int(timeout) and timeout > 0 else defaults.revision_timeout_seconds
    for field in ("responseStartTimeoutSeconds", "idleTimeoutSeconds"):
        value = spec.get(field)
        if value is not None and (not is_int(value) or not 0 <= value <= limit):
            errs.append(FieldError(join(path, field),
                                   f"must be between 0 and timeoutSeconds ({limit}), got {quote(value)}"))
    return errs


def _pod_spec(spec: Mapping, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        errs.append(FieldError(join(path, "containers"), "is required: at least one container"))
        containers = []
    volumes = _volumes(spec.get("volumes"), join(path, "volumes"), containers, errs)
    errs += _ports(containers, path)
    serving = serving_container_index(spec)
    port = serving_port(spec)
    inits = spec.get("initContainers")
    seen: dict[str, str] = {}
    for i, container in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        if not isinstance(container, Mapping):
            errs.append(FieldError(cpath, "must be a mapping"))
            continue
        errs += _container(container, cpath, volumes, seen, serving=i == serving)
        if i == serving:
            errs += validate_readiness_probe(container.get("readinessProbe"), join(cpath, "readinessProbe"), port)
            errs += validate_probe(container.get("livenessProbe"), join(cpath, "livenessProbe"), port)
        else:
            for probe in ("readinessProbe", "livenessProbe"):
                if container.get(probe) is not None:
                    errs.append(FieldError(join(cpath, probe), "probes are only allowed on the serving container"))
    if inits:
        errs.append(FieldError(join(path, "initContainers"),
                               "init containers are not enabled (Knative's kubernetes.podspec-init-containers is off)"))
    account = spec.get("serviceAccountName")
    if account is not None:
        problem = dns1123_subdomain_problem(account)
        if problem:
            errs.append(FieldError(join(path, "serviceAccountName"), problem))
    return errs


def _ports(containers: list, path: str) -> list[FieldError]:
    declared = [(i, j, port) for i, c in enumerate(containers) if isinstance(c, Mapping)
                and isinstance(c.get("ports"), list) for j, port in enumerate(c["ports"])]
    errs = []
    if not declared and len(containers) > 1:
        errs.append(FieldError(f"{path}.containers[*].ports",
                               "exactly one container must declare a port when there are several containers"))
    for i, j, _ in declared[1:]:
        first = declared[0]
        errs.append(FieldError(f"{path}.containers[{i}].ports[{j}]",
                               "only one container port may be set across all containers "
                               f"(the serving port is containers[{first[0]}].ports[{first[1]}])"))
    if declared:
        i, j, port = declared[0]
        errs += _serving_port(port, f"{path}.containers[{i}].ports[{j}]")
    return errs


def _serving_port(port: Any, path: str) -> list[FieldError]:
    if not isinstance(port, Mapping):
        return [FieldError(path, "must be a mapping")]
    errs = []
    number = port.get("containerPort")
    if not is_int(number) or not 1 <= number <= 65535:
        errs.append(FieldError(join(path, "containerPort"), bounds_message(number, 1, 65535)))
    elif number in RESERVED_PORTS:
        errs.append(FieldError(join(path, "containerPort"),
                               f"{number} is a reserved port, please use a different value"))
    if port.get("protocol") not in (None, "", "TCP"):
        errs.append(FieldError(join(path, "protocol"),
                               f"invalid value {quote(port['protocol'])}: only TCP is supported"))
    if port.get("name", "") not in PORT_NAMES:
        errs.append(FieldError(join(path, "name"), f"port name {quote(port['name'])} is not allowed: "
                                                   "must be empty, \"http1\" or \"h2c\""))
    return errs


def _container(container: Mapping, path: str, volumes: dict, seen: dict, *, serving: bool) -> list[FieldError]:
    errs = []
    name = container.get("name")
    if name is not None:
        problem = dns1123_label_problem(name)
        if problem:
            errs.append(FieldError(join(path, "name"), problem))
        elif name in RESERVED_CONTAINER_NAMES:
            errs.append(FieldError(join(path, "name"), f"{quote(name)} is a reserved container name"))
        elif name in seen:
            errs.append(FieldError(join(path, "name"),
                                   f"duplicate container name {quote(name)} (also {seen[name]})"))
        else:
            seen[name] = path
    image, command = container.get("image"), container.get("command")
    if image is not None and (not isinstance(image, str) or not image):
        errs.append(FieldError(join(path, "image"), "must be a non-empty string"))
    if image is None and not command:
        errs.append(FieldError(join(path, "image"), "is required (or set command to run a local process)"))
    for field in ("command", "args"):
        value = container.get(field)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            errs.append(FieldError(join(path, field), "must be a list of strings"))
    errs += _env(container.get("env"), join(path, "env"), RESERVED_ENV if serving else RESERVED_SIDECAR_ENV)
    errs += _mounts(container.get("volumeMounts"), join(path, "volumeMounts"), volumes)
    return errs


def _env(env: Any, path: str, reserved: frozenset) -> list[FieldError]:
    if env is None:
        return []
    if not isinstance(env, list):
        return [FieldError(path, "must be a list")]
    errs = []
    for i, var in enumerate(env):
        name = var.get("name") if isinstance(var, Mapping) else None
        if not isinstance(name, str) or not name:
            errs.append(FieldError(f"{path}[{i}].name", "is required"))
        elif name in reserved:
            errs.append(FieldError(f"{path}[{i}].name", f"{quote(name)} is a reserved environment variable"))
    return errs


def _volumes(volumes: Any, path: str, containers: list, errs: list[FieldError]) -> dict:
    if volumes is None:
        return {}
    if not isinstance(volumes, list):
        errs.append(FieldError(path, "must be a list"))
        return {}
    mounted = {m.get("name") for c in containers if isinstance(c, Mapping)
               and isinstance(c.get("volumeMounts"), list) for m in c["volumeMounts"] if isinstance(m, Mapping)}
    found: dict[str, Mapping] = {}
    for i, volume in enumerate(volumes):
        vpath = f"{path}[{i}]"
        if not isinstance(volume, Mapping):
            errs.append(FieldError(vpath, "must be a mapping"))
            continue
        name = volume.get("name")
        problem = dns1123_label_problem(name) if name is not None else "is required"
        if problem:
            errs.append(FieldError(join(vpath, "name"), problem))
        elif name in found:
            errs.append(FieldError(join(vpath, "name"), f"duplicate volume name {quote(name)}"))
        elif name not in mounted:
            errs.append(FieldError(join(vpath, "name"), f"volume {quote(name)} is not mounted by any container"))
        sources = [s for s in VOLUME_SOURCES + ("persistentVolumeClaim", "hostPath") if s in volume]
        if len(sources) != 1 or sources[0] not in VOLUME_SOURCES:
            errs.append(FieldError(vpath, f"expected exactly one of {', '.join(VOLUME_SOURCES)}"
                                          + (f"; got {', '.join(sources)}" if sources else "")))
        if isinstance(name, str):
            found.setdefault(name, volume)
    return found


def _mounts(mounts: Any, path: str, volumes: dict) -> list[FieldError]:
    if mounts is None:
        return []
    if not isinstance(mounts, list):
        return [FieldError(path, "must be a list")]
    errs, seen = [], set()
    for i, mount in enumerate(mounts):
        mpath = f"{path}[{i}]"
        if not isinstance(mount, Mapping):
            errs.append(FieldError(mpath, "must be a mapping"))
            continue
        volume = volumes.get(mount.get("name"))
        if volume is None:
            errs.append(FieldError(join(mpath, "name"),
                                   f"volumeMount has no matching volume {quote(mount.get('name'))}"))
        mount_path = mount.get("mountPath")
        if not isinstance(mount_path, str) or not mount_path:
            errs.append(FieldError(join(mpath, "mountPath"), "is required"))
            continue
        clean = posixpath.normpath(mount_path)
        clean = "/" if clean == "//" else clean  # normpath keeps a leading double slash
        if clean in RESERVED_PATHS:
            errs.append(FieldError(join(mpath, "mountPath"), f"mountPath {quote(clean)} is a reserved path"))
        elif not posixpath.isabs(mount_path):
            errs.append(FieldError(join(mpath, "mountPath"), f"{quote(mount_path)} must be an absolute path"))
        elif clean in seen:
            errs.append(FieldError(join(mpath, "mountPath"), f"{quote(mount_path)} must be unique"))
        seen.add(clean)
        if volume is not None and not any(s in volume for s in _WRITABLE_SOURCES) and not mount.get("readOnly"):
            errs.append(FieldError(join(mpath, "readOnly"), "must be true for this type of volume"))
    return errs

"""The resource types the CLI knows: API names, the words that select them, kubectl's names and table columns.

Columns live with the types, as printer columns live in a CRD: Knative's for its kinds, kubectl's for core ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataplane.cli.ages import age

SERVING = "serving.knative.dev"

Column = tuple[str, Callable[[dict, float], str]]
"""A table column: its title and the cell for an object at epoch time ``now``."""


def condition(obj: dict, type_: str) -> dict:
    """The status condition of ``type_``; empty when absent."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == type_:
            return cond
    return {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _status(field: str) -> Callable[[dict, float], str]:
    return lambda obj, _now: _text((obj.get("status") or {}).get(field))


def _label(key: str) -> Callable[[dict, float], str]:
    return lambda obj, _now: _text(((obj.get("metadata") or {}).get("labels") or {}).get(key))


def _ready(obj: dict, _now: float) -> str:
    return _text(condition(obj, "Ready").get("status"))


def _reason(obj: dict, _now: float) -> str:
    return _text(condition(obj, "Ready").get("reason"))


def pod_ready(pod: dict) -> str:
    """Ready containers over all containers, e.g. ``2/2``."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def pod_status(pod: dict) -> str:
    """kubectl's STATUS: Terminating, else a container's waiting or terminated reason, else the phase."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            return state["waiting"]["reason"]
        if "terminated" in state:
            terminated = state["terminated"] or {}
            if terminated.get("reason"):
                return terminated["reason"]
            if terminated.get("signal"):
                return f"Signal:{terminated['signal']}"
            return f"ExitCode:{terminated.get('exitCode', 0)}"
    return _text(status.get("reason") or status.get("phase") or "Unknown")


def _restarts(pod: dict, _now: float) -> str:
    return str(sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or []))


def _or_none(value: Any) -> str:
    return "<none>" if value in (None, "", [], {}) else str(value)


def _replicas(section: str, field: str) -> Callable[[dict, float], str]:
    return lambda obj, _now: str((obj.get(section) or {}).get(field) or 0)


def _containers(field: str) -> Callable[[dict, float], str]:
    def cell(obj: dict, _now: float) -> str:
        containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        return _or_none(",".join(str(c.get(field, "")) for c in containers))

    return cell


def _selector(obj: dict, _now: float) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    # ReplicaSets nest their labels under matchLabels; core Services do not
    labels = selector.get("matchLabels", selector)
    return _or_none(",".join(f"{k}={v}" for k, v in (labels or {}).items()))


def _data_count(obj: dict, _now: float) -> str:
    return str(len(obj.get("data") or {}) + len(obj.get("binaryData") or {}))


def _external_ip(svc: dict, _now: float) -> str:
    spec = svc.get("spec") or {}
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    addresses = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
    addresses += spec.get("externalIPs") or []
    if addresses:
        return ",".join(addresses)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _ports(svc: dict, _now: float) -> str:
    ports = []
    for port in (svc.get("spec") or {}).get("ports") or []:
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        ports.append(f"{port.get('port')}{node}/{port.get('protocol', 'TCP')}")
    return _or_none(",".join(ports))


def _spec(field: str, default: str = "<none>") -> Callable[[dict, float], str]:
    return lambda obj, _now: _text((obj.get("spec") or {}).get(field)) or default


_SERVICE_COLUMNS: tuple[Column, ...] = (
    ("URL", _status("url")),
    ("LATESTCREATED", _status("latestCreatedRevisionName")),
    ("LATESTREADY", _status("latestReadyRevisionName")),
    ("READY", _ready),
    ("REASON", _reason),
)


@dataclass(frozen=True)
class Kind:
    """One resource type of the control API."""

    resource: str
    """Path segment in ``/v1/<resource>``, e.g. ``services`` or ``kubeservices``."""
    kind: str
    """The ``kind`` field of its objects, e.g. ``Service``."""
    group: str
    """API group; empty for core Kubernetes types."""
    plural: str
    """kubectl's plural, used in messages: ``services`` (for both Knative and core Services)."""
    aliases: tuple[str, ...]
    """Every word that selects this type in ``get``/``describe``/``delete``."""
    columns: tuple[Column, ...] = ()
    """Table columns after NAME (Knative's printer columns, kubectl's for core types)."""
    wide: tuple[Column, ...] = ()
    """Extra columns for ``-o wide``."""

    @property
    def singular(self) -> str:
        """Lower-case kind, e.g. ``service``."""
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """kubectl's ``<singular>.<group>`` as printed by ``apply`` and ``-o name``."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    @property
    def qualified_plural(self) -> str:
        """kubectl's ``<plural>.<group>`` as used in NotFound messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def ref(self, name: str) -> str:
        """``service.serving.knative.dev/knative-example``."""
        return f"{self.qualified}/{name}"


KINDS: tuple[Kind, ...] = (
    # Knative's CLI convention: "service" is the Knative Service, "svc" the core one
    Kind("services", "Service", SERVING, "services", ("service", "services", "ksvc", "kservice", "kservices"),
         _SERVICE_COLUMNS),
    Kind("configurations", "Configuration", SERVING, "configurations",
         ("configuration", "configurations", "config", "configs", "cfg"), _SERVICE_COLUMNS[1:]),
    Kind("revisions", "Revision", SERVING, "revisions", ("revision", "revisions", "rev", "revs"), (
        ("CONFIG NAME", _label("serving.knative.dev/configuration")),
        ("GENERATION", _label("serving.knative.dev/configurationGeneration")),
        ("READY", _ready),
        ("REASON", _reason),
        ("ACTUAL REPLICAS", _status("actualReplicas")),
        ("DESIRED REPLICAS", _status("desiredReplicas")),
    )),
    Kind("routes", "Route", SERVING, "routes", ("route", "routes", "rt"), (
        ("URL", _status("url")),
        ("READY", _ready),
        ("REASON", _reason),
    )),
    Kind("pods", "Pod", "", "pods", ("pod", "pods", "po"), (
        ("READY", lambda obj, _now: pod_ready(obj)),
        ("STATUS", lambda obj, _now: pod_status(obj)),
        ("RESTARTS", _restarts),
        ("AGE", age),
    ), (
        ("IP", lambda obj, _now: _or_none((obj.get("status") or {}).get("podIP"))),
        ("NODE", _spec("nodeName")),
    )),
    Kind("replicasets", "ReplicaSet", "apps", "replicasets", ("replicaset", "replicasets", "rs"), (
        ("DESIRED", _replicas("spec", "replicas")),
        ("CURRENT", _replicas("status", "replicas")),
        ("READY", _replicas("status", "readyReplicas")),
        ("AGE", age),
    ), (
        ("CONTAINERS", _containers("name")),
        ("IMAGES", _containers("image")),
        ("SELECTOR", _selector),
    )),
    Kind("configmaps", "ConfigMap", "", "configmaps", ("configmap", "configmaps", "cm"), (
        ("DATA", _data_count),
        ("AGE", age),
    )),
    Kind("kubeservices", "Service", "", "services", ("svc", "kubeservice", "kubeservices"), (
        ("TYPE", _spec("type", "ClusterIP")),
        ("CLUSTER-IP", _spec("clusterIP")),
        ("EXTERNAL-IP", _external_ip),
        ("PORT(S)", _ports),
        ("AGE", age),
    ), (
        ("SELECTOR", _selector),
    )),
)

_BY_WORD: dict[str, Kind] = {}
for _kind in KINDS:
    for _word in _kind.aliases:
        _BY_WORD[_word] = _kind
        if _kind.group:
            _BY_WORD[f"{_word}.{_kind.group}"] = _kind


class UnknownType(LookupError):
    """A word that names no resource type."""

    def __init__(self, word: str):
        super().__init__(f'the server doesn\'t have a resource type "{word}"')
        self.word = word


def resolve(word: str) -> Kind:
    """The type selected by ``word`` (singular, plural, short name or ``<name>.<group>``, any case)."""
    try:
        return _BY_WORD[word.lower()]
    except KeyError:
        raise UnknownType(word) from None


def for_object(api_version: str, kind: str) -> Kind | None:
    """The type of an object with this ``apiVersion`` and ``kind``; None when the CLI does not know it."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    for candidate in KINDS:
        if candidate.kind == kind and candidate.group == group:
            return candidate
    return None


def ref_for_object(api_version: str, kind: str, name: str) -> str:
    """kubectl's ``<singular>.<group>/<name>`` for any object, known type or not."""
    known = for_object(api_version, kind)
    if known is not None:
        return known.ref(name)
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return f"{kind.lower()}.{group}/{name}" if group else f"{kind.lower()}/{name}"


def type_summary() -> str:
    """One line per type with its short names, for usage errors."""
    lines = []
    for kind in KINDS:
        shorts = [a for a in kind.aliases if a not in (kind.singular, kind.plural, kind.resource)]
        lines.append(f"  * {kind.resource}" + (f" (aka {', '.join(shorts)})" if shorts else ""))
    return "\n".join(lines)

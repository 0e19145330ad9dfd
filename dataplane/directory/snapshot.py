"""The directory snapshot: revisions, their pods and the routes to them.

Both backends produce the same JSON document (the local control plane serves it
over HTTP; the Kubernetes backend builds it from watches):

    {"version": 7,
     "revisions": [{"namespace": "default", "name": "hello-00001", "containerConcurrency": 1,
                    "timeoutSeconds": 300, "responseStartTimeoutSeconds": 0, "idleTimeoutSeconds": 0,
                    "annotations": {"autoscaling.knative.dev/target": "10"},
                    "pods": [{"name": "hello-00001-abc", "address": "127.0.0.1:40123",
                              "statsAddress": "127.0.0.1:40125", "ready": true, "startedAt": 1767225600.0}],
                    "failure": "ExitCode1"}],
     "routes": [{"namespace": "default", "name": "hello",
                 "hosts": ["hello.default.example.com"],
                 "traffic": [{"revisionName": "hello-00001", "percent": 100}],
                 "tagHosts": {"v1-hello.default.example.com": "hello-00001"}},
                {"namespace": "default", "name": "broken", "hosts": ["broken.default.example.com"], "traffic": [],
                 "failure": {"revisionName": "broken-00001", "reason": "ExitCode1"}}],
     "activators": ["activator-5d8f-2xk7q", "activator-5d8f-9hjw4"]}

A revision's ``failure`` (absent when none) says no pod can serve it now and
why; a route's ``failure`` says why a host it claims has no revision to go to.
Only reasons travel here, never messages: they reach clients in 503 bodies,
and a message may quote the app's log. ``activators`` (absent: just one) names
the activators in the request path, in the order every activator reads them:
each takes its share of every revision's capacity by its place in that list.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_REASON = re.compile(r"[A-Za-z0-9]{0,64}")


class DirectoryError(ValueError):
    """A snapshot that does not have the expected shape; the message names the field."""


@dataclass(frozen=True)
class PodInfo:
    name: str
    address: str
    """host:port of the pod's queue-proxy serving port."""
    ready: bool
    """The backend's own view (Kubernetes readiness, or the local runtime's probe)."""
    stats_address: str = ""
    """host:port of the queue-proxy's autoscaler stats (Knative: the pod IP and 9090)."""
    started_at: float = 0.0
    """Unix time the pod started; the autoscaler prefers older pods when sampling."""


@dataclass(frozen=True)
class RevisionInfo:
    namespace: str
    name: str
    container_concurrency: int = 0
    timeout: float = 300.0
    response_start_timeout: float = 0.0
    idle_timeout: float = 0.0
    annotations: dict = field(default_factory=dict, hash=False, compare=False)
    """The revision's annotations (autoscaling settings among them)."""
    pods: tuple[PodInfo, ...] = ()
    failure: str = ""
    """Why no pod can serve the revision now (a reason such as ExitCode1); empty when pods can, or may soon."""
    configuration: str = ""
    """The Configuration the revision belongs to (its ``serving.knative.dev/configuration`` label), for metric labels."""
    service: str = ""
    """The Service, if any (its ``serving.knative.dev/service`` label), for metric labels."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def smooth_schedule(weights: list[int]) -> list[int]:
    """Indices in smooth weighted round-robin order over one cycle of ``sum(weights)`` picks.

    Every window of the cycle is as close to the weights as integers allow, so
    a 50/50 split serves exactly half of any even number of requests to each.
    """
    total = sum(weights)
    current = [0] * len(weights)
    order = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        order.append(best)
    return order


class RouteTable:
    """Host → revisions, for the activator acting as the router; traffic splits are exact, not random."""

    def __init__(self, splits: dict[str, tuple[list[int], list[tuple[str, str]]]] | None = None,
                 failures: dict[str, tuple[tuple[str, str], str]] | None = None):
        # host -> (weights, revision keys); the schedule is built on first use
        self.splits = splits or {}
        self._schedules: dict[str, tuple[list[tuple[str, str]], int]] = {}
        self.failures = failures or {}
        """host -> (revision key, reason): hosts a Route claims that have no revision to go to."""

    def failure(self, host: str) -> tuple[tuple[str, str], str] | None:
        """Why ``host``, claimed by a Route, has no revision to serve it; None for hosts no Route claims."""
        return self.failures.get(host)

    def pick(self, host: str) -> tuple[str, str] | None:
        """The revision for the next request to ``host``."""
        entry = self._schedules.get(host)
        if entry is None:
            split = self.splits.get(host)
            if split is None or not split[1]:
                return None
            weights, keys = split
            order = [keys[i] for i in smooth_schedule(weights)]
            entry = self._schedules[host] = (order, 0)
        order, position = entry
        self._schedules[host] = (order, (position + 1) % len(order))
        return order[position]


@dataclass(frozen=True)
class Snapshot:
    version: int
    revisions: dict[tuple[str, str], RevisionInfo]
    routes: RouteTable
    activators: tuple[str, ...] = ()
    """Pod names of the activators in the request path; empty when there is one."""


def _get(doc: dict, key: str, kind, path: str, default=None):
    value = doc.get(key, default)
    if value is None and default is None:
        raise DirectoryError(f"{path}.{key}: required")
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DirectoryError(f"{path}.{key}: must be {kind.__name__}, got {value!r}")
    return value


def parse_snapshot(doc) -> Snapshot:
    """Validate and index a snapshot document."""
    if not isinstance(doc, dict):
        raise DirectoryError("snapshot: must be an object")
    revisions: dict[tuple[str, str], RevisionInfo] = {}
    for i, rev in enumerate(_get(doc, "revisions", list, "snapshot", [])):
        path = f"revisions[{i}]"
        if not isinstance(rev, dict):
            raise DirectoryError(f"{path}: must be an object")
        pods = []
        for j, pod in enumerate(_get(rev, "pods", list, path, [])):
            ppath = f"{path}.pods[{j}]"
            if not isinstance(pod, dict):
                raise DirectoryError(f"{ppath}: must be an object")
            address = _get(pod, "address", str, ppath)
            if ":" not in address:
                raise DirectoryError(f"{ppath}.address: must be host:port, got {address!r}")
            stats = _get(pod, "statsAddress", str, ppath, "")
            if stats and ":" not in stats:
                raise DirectoryError(f"{ppath}.statsAddress: must be host:port, got {stats!r}")
            pods.append(
                PodInfo(
                    _get(pod, "name", str, ppath, address),
                    address,
                    _get(pod, "ready", bool, ppath, False),
                    stats,
                    _get(pod, "startedAt", float, ppath, 0.0),
                )
            )
        annotations = _get(rev, "annotations", dict, path, {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
            raise DirectoryError(f"{path}.annotations: keys and values must be strings")
        failure = _get(rev, "failure", str, path, "")
        if not _REASON.fullmatch(failure):
            raise DirectoryError(f"{path}.failure: must be a reason (letters and digits), got {failure!r}")
        info = RevisionInfo(
            failure=failure,
            namespace=_get(rev, "namespace", str, path),
            name=_get(rev, "name", str, path),
            container_concurrency=_get(rev, "containerConcurrency", int, path, 0),
            timeout=_get(rev, "timeoutSeconds", float, path, 300.0),
            response_start_timeout=_get(rev, "responseStartTimeoutSeconds", float, path, 0.0),
            idle_timeout=_get(rev, "idleTimeoutSeconds", float, path, 0.0),
            annotations=annotations,
            pods=tuple(pods),
            configuration=_get(rev, "configuration", str, path, ""),
            service=_get(rev, "service", str, path, ""),
        )
        revisions[info.key] = info
    splits: dict[str, tuple[list[int], list[tuple[str, str]]]] = {}
    failures: dict[str, tuple[tuple[str, str], str]] = {}
    for i, route in enumerate(_get(doc, "routes", list, "snapshot", [])):
        path = f"routes[{i}]"
        if not isinstance(route, dict):
            raise DirectoryError(f"{path}: must be an object")
        ns = _get(route, "namespace", str, path)
        failure = _get(route, "failure", dict, path, {})
        if failure:
            fpath = f"{path}.failure"
            reason = _get(failure, "reason", str, fpath)
            if not _REASON.fullmatch(reason) or not reason:
                raise DirectoryError(f"{fpath}.reason: must be a reason (letters and digits), got {reason!r}")
            claimed = ((ns, _get(failure, "revisionName", str, fpath, "")), reason)
            for host in _get(route, "hosts", list, path, []):
                failures[str(host).lower()] = claimed
        weights: list[int] = []
        keys: list[tuple[str, str]] = []
        for j, target in enumerate(_get(route, "traffic", list, path, [])):
            tpath = f"{path}.traffic[{j}]"
            percent = _get(target, "percent", int, tpath, 0)
            if percent <= 0:
                continue
            weights.append(percent)
            keys.append((ns, _get(target, "revisionName", str, tpath)))
        g = 0
        for w in weights:
            g = math.gcd(g, w)
        weights = [w // g for w in weights] if g else weights  # 50/50 is a cycle of 2, not 100
        for host in _get(route, "hosts", list, path, []):
            splits[str(host).lower()] = (weights, keys)
        for host, rev_name in _get(route, "tagHosts", dict, path, {}).items():
            splits[str(host).lower()] = ([1], [(ns, str(rev_name))])
    for host, (_, targets) in splits.items():
        if targets:
            failures.pop(host, None)  # a host with traffic somewhere goes there
    activators = _get(doc, "activators", list, "snapshot", [])
    if not all(isinstance(a, str) and a for a in activators):
        raise DirectoryError(f"snapshot.activators: must be non-empty strings, got {activators!r}")
    if len(set(activators)) != len(activators):
        raise DirectoryError(f"snapshot.activators: names must be unique, got {activators!r}")
    return Snapshot(_get(doc, "version", int, "snapshot", 0), revisions, RouteTable(splits, failures), tuple(activators))

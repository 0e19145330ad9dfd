"""The Kubernetes runtime backend: each Revision runs as a Deployment, reached through a private Service.

Implements ``dataplane.controller.runtime.Runtime``. Deployments, pods and the
private Services are watched (informers); a revision's state is read from its
Deployment's status and its pods' container statuses.
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import logging
import time
from collections.abc import Callable

import aiohttp

from dataplane.api import conditions as c
from dataplane.api import keys
from dataplane.controller.activation import PROXY
from dataplane.controller.runtime import PodState, RevisionState
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import MERGE_PATCH, ApiError, KubeClient
from dataplane.platform.kubernetes.deletioncost import mark_deletion_costs
from dataplane.platform.kubernetes.informer import Informer
from dataplane.platform.kubernetes.sidecar import METRICS_PORT, QUEUE_CONTAINER, QUEUE_PORT, STATS_PORT, DeploymentConfig
from dataplane.platform.kubernetes.workload import (
    SERVICE_TYPE_LABEL,
    TEMPLATE_HASH_ANNOTATION,
    deployment_name,
    make_deployment,
    make_private_service,
    private_service_name,
)

log = logging.getLogger("dataplane.kubernetes")
# waiting reasons of a container that is on its way up, not failing
STARTING = ("ContainerCreating", "PodInitializing")
MODE_ANNOTATION = "dataplane.dev/serving-mode"
HOLD_ANNOTATION = "dataplane.dev/zero-held"
"""On a Deployment the autoscaler wants at zero, kept at one pod until the activator is confirmed in its path."""
_KEPT_ANNOTATIONS = (MODE_ANNOTATION, HOLD_ANNOTATION)


def _timestamp(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return 0.0


def pod_state(pod: dict) -> PodState:
    """A pod as the reconcilers see it: phase, readiness, and how its app container is doing."""
    meta, status = pod["metadata"], pod.get("status") or {}
    terminating = bool(meta.get("deletionTimestamp"))
    ready = any(cond.get("type") == "Ready" and cond.get("status") == "True" for cond in status.get("conditions") or [])
    app = next((s for s in status.get("containerStatuses") or [] if s.get("name") != QUEUE_CONTAINER), {})
    waiting = (app.get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or ""
    terminated = (app.get("lastState") or {}).get("terminated") or {}
    ip = status.get("podIP") or ""
    return PodState(
        name=meta["name"],
        phase="Terminating" if terminating else status.get("phase") or "Pending",
        ready=ready and not terminating,
        restarts=int(app.get("restartCount") or 0),
        address=f"{ip}:{QUEUE_PORT}" if ip else "",
        stats_address=f"{ip}:{STATS_PORT}" if ip else "",
        started_at=_timestamp(status.get("startTime")),
        waiting_reason="" if reason in STARTING else reason,
        last_exit_code=terminated.get("exitCode") if reason and reason not in STARTING else None,
        message=waiting.get("message") or terminated.get("message") or "",
    )


class KubernetesRuntime:
    """Implements ``Runtime`` with Deployments; ``config()`` gives the current ``config-deployment``."""

    def __init__(
        self,
        client: KubeClient,
        config: Callable[[], DeploymentConfig],
        *,
        metrics_port: int = METRICS_PORT,
        scrape_timeout: float = 0.5,
        **informer_options,
    ):
        self.client = client
        self.config = config
        self.metrics_port = metrics_port
        self.scrape_timeout = scrape_timeout
        has_revision = keys.REVISION_LABEL
        self.deployments = Informer(client, r.DEPLOYMENT, label_selector=has_revision, **informer_options)
        self.pods = Informer(client, r.POD, label_selector=has_revision, **informer_options)
        self.services = Informer(client, r.KUBE_SERVICE, label_selector=f"{SERVICE_TYPE_LABEL}=Private", **informer_options)
        self.by_revision: dict[tuple[str, str], dict[str, dict]] = {}
        self.ever_ready: set[tuple[str, str]] = set()
        self.listeners: list[Callable[[str, str], None]] = []
        self.modes: dict[tuple[str, str], str] = {}
        self.mode_listeners: list[Callable[[str, str], None]] = []
        """Told ``(namespace, revision)`` when the autoscaler moves a revision between Serve and Proxy."""
        self.pods.subscribe(self._on_pod)
        self.deployments.subscribe(self._on_deployment)
        self.tasks: list[asyncio.Task] = []
        self.session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(inf.run()) for inf in (self.deployments, self.pods, self.services)]

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.synced.wait() for inf in (self.deployments, self.pods, self.services)))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    # -- the Runtime interface ---------------------------------------------------------------------

    async def ensure_revision(self, revision: dict, initial_scale: int) -> RevisionState:
        meta = revision["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if c.condition_status(revision.get("status"), c.RESOURCES_AVAILABLE) == c.TRUE:
            self.ever_ready.add((ns, name))  # a revision scaled to zero since stays what it was
        want = make_deployment(revision, initial_scale, self.config())
        have = self.deployments.get(ns, want["metadata"]["name"])
        if have is None:
            await self._create(r.DEPLOYMENT, self.deployments, want)
        elif _owned_by(have, revision) and _hash(have) != _hash(want):
            await self._roll(have, want)
        if self.services.get(ns, private_service_name(name)) is None:
            await self._create(r.KUBE_SERVICE, self.services, make_private_service(revision))
        return self.revision_state(ns, name) or RevisionState(initial_scale)

    def revision_state(self, namespace: str, name: str) -> RevisionState | None:
        deployment = self.deployments.get(namespace, deployment_name(name))
        if deployment is None:
            return None
        pods = tuple(pod_state(p) for p in sorted(self.by_revision.get((namespace, name), {}).values(), key=_name))
        status = deployment.get("status") or {}
        if status.get("readyReplicas") or any(p.ready for p in pods):
            self.ever_ready.add((namespace, name))
        failure, message = "", ""
        for cond in status.get("conditions") or []:
            if (
                cond.get("type") == "Progressing"
                and cond.get("status") == "False"
                and cond.get("reason") == "ProgressDeadlineExceeded"
            ):
                failure, message = "ProgressDeadlineExceeded", cond.get("message") or ""
            elif cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                failure, message = cond.get("reason") or "ReplicaFailure", cond.get("message") or ""
        return RevisionState(
            replicas=int((deployment.get("spec") or {}).get("replicas") or 0),
            pods=pods,
            failure=failure,
            failure_message=message,
            ever_ready=(namespace, name) in self.ever_ready,
        )

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        """Set the Deployment's replicas through its ``scale`` subresource; idle pods go first on the way down."""
        deployment = self.deployments.get(namespace, deployment_name(name))
        if deployment is None:
            return
        current = int((deployment.get("spec") or {}).get("replicas") or 0)
        if current == replicas:
            return
        if replicas < current:
            if self.session is None:
                self.session = aiohttp.ClientSession()
            pods = list(self.by_revision.get((namespace, name), {}).values())
            await mark_deletion_costs(self.client, self.session, pods, self.metrics_port, self.scrape_timeout)
        scale = await self.client.request(
            "PATCH",
            r.DEPLOYMENT.path(namespace, deployment_name(name), "scale"),
            body={"spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
        )
        seen = copy.deepcopy(deployment)
        seen["spec"]["replicas"] = replicas
        # the Scale carries the Deployment's new resourceVersion: later writes must not look stale
        seen["metadata"]["resourceVersion"] = (scale.get("metadata") or {}).get("resourceVersion", "")
        self.deployments.put(seen)

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        self.listeners.append(listener)

    # -- the serving mode ----------------------------------------------------------------------------

    def mode(self, namespace: str, name: str) -> str:
        """Serve or Proxy; Proxy until the autoscaler has said otherwise (Knative: no data keeps the activator in)."""
        return self.modes.get((namespace, name), PROXY)

    async def set_mode(self, namespace: str, name: str, mode: str) -> None:
        """Record the autoscaler's mode on the revision's Deployment (if it differs)."""
        deployment = self.deployments.get(namespace, deployment_name(name))
        if deployment is None or _mode_of(deployment) == mode:
            return
        patch = {"metadata": {"annotations": {MODE_ANNOTATION: mode}}}
        path = r.DEPLOYMENT.path(namespace, deployment_name(name))
        self.deployments.put(await self.client.request("PATCH", path, body=patch, content_type=MERGE_PATCH))
        self._track_mode(namespace, name, mode)

    # -- going to zero ------------------------------------------------------------------------------

    def replicas(self, namespace: str, name: str) -> int:
        """The replicas the revision's Deployment asks for (0 when it has none)."""
        deployment = self.deployments.get(namespace, deployment_name(name))
        return int(((deployment or {}).get("spec") or {}).get("replicas") or 0)

    def held(self) -> list[tuple[str, str]]:
        """Revisions kept at one pod until the activator is confirmed in their path."""
        out = []
        for deployment in self.deployments.items():
            meta = deployment["metadata"]
            if (meta.get("annotations") or {}).get(HOLD_ANNOTATION):
                out.append((meta.get("namespace", ""), (meta.get("labels") or {}).get(keys.REVISION_LABEL, "")))
        return out

    async def set_held(self, namespace: str, name: str, held: bool) -> None:
        """Mark (or unmark) the Deployment as wanted at zero but kept at one pod; kept there for every replica to see."""
        deployment = self.deployments.get(namespace, deployment_name(name))
        if deployment is None or bool((deployment["metadata"].get("annotations") or {}).get(HOLD_ANNOTATION)) == held:
            return
        patch = {"metadata": {"annotations": {HOLD_ANNOTATION: "true" if held else None}}}
        path = r.DEPLOYMENT.path(namespace, deployment_name(name))
        self.deployments.put(await self.client.request("PATCH", path, body=patch, content_type=MERGE_PATCH))

    async def release_last_pod(self, namespace: str, name: str) -> bool:
        """Take a held Deployment to zero, in one write guarded by the version seen: a newer decision wins."""
        deployment = self.deployments.get(namespace, deployment_name(name))
        if deployment is None or not (deployment["metadata"].get("annotations") or {}).get(HOLD_ANNOTATION):
            return False
        patch = {
            "metadata": {"resourceVersion": deployment["metadata"].get("resourceVersion"), "annotations": {HOLD_ANNOTATION: None}},
            "spec": {"replicas": 0},
        }
        path = r.DEPLOYMENT.path(namespace, deployment_name(name))
        try:
            self.deployments.put(await self.client.request("PATCH", path, body=patch, content_type=MERGE_PATCH))
        except ApiError as exc:
            if exc.status in (404, 409):  # changed meanwhile (a newer decision, or another replica did it)
                return False
            raise
        log.info("deployment %s/%s: the activator is in the path, the last pod goes", namespace, deployment_name(name))
        return True

    # -- internals ---------------------------------------------------------------------------------

    async def _create(self, resource: r.Resource, informer: Informer, obj: dict) -> None:
        meta = obj["metadata"]
        try:
            informer.put(await self.client.request("POST", resource.path(meta["namespace"]), body=obj))
        except ApiError as exc:
            if exc.status != 409:  # created meanwhile (or still being deleted): the watch will tell
                raise

    async def _roll(self, have: dict, want: dict) -> None:
        """Bring a Deployment's pod template up to date (e.g. a new queue-proxy image), keeping its replicas."""
        meta = have["metadata"]
        path = r.DEPLOYMENT.path(meta["namespace"], meta["name"])
        log.info("deployment %s/%s: pod template changed, rolling", meta["namespace"], meta["name"])
        for attempt in range(2):
            updated = copy.deepcopy(have)
            updated["spec"]["template"] = want["spec"]["template"]
            updated["spec"]["progressDeadlineSeconds"] = want["spec"]["progressDeadlineSeconds"]
            updated["metadata"]["labels"] = want["metadata"]["labels"]
            kept = {k: v for k, v in (have["metadata"].get("annotations") or {}).items() if k in _KEPT_ANNOTATIONS}
            updated["metadata"]["annotations"] = {**want["metadata"]["annotations"], **kept}
            try:
                self.deployments.put(await self.client.request("PUT", path, body=updated))
                return
            except ApiError as exc:
                if exc.status != 409 or attempt:
                    raise
                have = await self.client.get(path)  # scaled meanwhile: keep its replicas, take its version

    def _on_pod(self, event: str, pod: dict) -> None:
        meta = pod["metadata"]
        revision = (meta.get("labels") or {}).get(keys.REVISION_LABEL)
        if not revision:
            return
        key = (meta.get("namespace", ""), revision)
        if event == "DELETED":
            self.by_revision.get(key, {}).pop(meta["name"], None)
        else:
            self.by_revision.setdefault(key, {})[meta["name"]] = pod
            if pod_state(pod).ready:
                self.ever_ready.add(key)
        self._notify(key)

    def _on_deployment(self, event: str, deployment: dict) -> None:
        meta = deployment["metadata"]
        revision = (meta.get("labels") or {}).get(keys.REVISION_LABEL)
        if revision:
            ns = meta.get("namespace", "")
            self._track_mode(ns, revision, PROXY if event == "DELETED" else _mode_of(deployment) or PROXY)
            self._notify((ns, revision))

    def _track_mode(self, namespace: str, name: str, mode: str) -> None:
        key = (namespace, name)
        if self.modes.get(key, PROXY) != mode:
            for listener in list(self.mode_listeners):
                listener(namespace, name)
        if mode == PROXY:
            self.modes.pop(key, None)
        else:
            self.modes[key] = mode

    def _notify(self, key: tuple[str, str]) -> None:
        for listener in list(self.listeners):
            listener(*key)


def _mode_of(deployment: dict) -> str:
    return (deployment["metadata"].get("annotations") or {}).get(MODE_ANNOTATION, "")


def _name(pod: dict) -> str:
    return pod["metadata"]["name"]


def _hash(deployment: dict) -> str:
    return (deployment["metadata"].get("annotations") or {}).get(TEMPLATE_HASH_ANNOTATION, "")


def _owned_by(obj: dict, owner: dict) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])

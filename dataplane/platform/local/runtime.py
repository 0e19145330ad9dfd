"""The local runtime backend: each Revision's ReplicaSet (in the store) becomes supervised local pods."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path

from dataplane.api import conditions as c
from dataplane.api import keys, owner_reference
from dataplane.api.annotations import progress_deadline
from dataplane.controller.health import PROGRESS_DEADLINE_EXCEEDED
from dataplane.controller.runtime import PodState, RevisionState
from dataplane.platform.local.podspec import NotRunnable, PodTemplate, template_for
from dataplane.platform.local.pods import LocalPod, pod_suffix
from dataplane.platform.local.progress import ProgressDeadline
from dataplane.platform.local.store import SqliteStore, now_rfc3339

REPLICASET = "ReplicaSet"
STANDBY_DELAY = 5.0
"""Seconds after its pods are all ready before a revision's next standby starts (at once when it is scaled to
zero, idle): the interpreter it starts would otherwise take the CPU from the first requests a cold-started app
answers (the seed article's app answers after 1 s)."""


class Deployment:
    """One revision's pods and the replicas wanted of it."""

    def __init__(self, key: tuple[str, str], template: PodTemplate | None, failure: NotRunnable | None, rs_name: str, replicas: int,
                 progress: ProgressDeadline | None = None):
        self.key = key
        self.template = template
        self.failure = failure
        self.rs_name = rs_name
        self.replicas = replicas
        self.pods: dict[str, LocalPod] = {}
        self.ever_ready = False
        self.converging = False
        self.again = False
        self.progress = progress or ProgressDeadline(float("inf"))
        self.deadline_timer: asyncio.TimerHandle | None = None
        self.routed = False
        """Whether a Route sends it traffic (its routingState label is ``active``)."""
        self.standby: LocalPod | None = None
        """The next pod, its queue-proxy started and held (``LocalPod.prestart``), while routed."""
        self.standby_timer: asyncio.TimerHandle | None = None


class LocalRuntime:
    """Implements ``dataplane.controller.runtime.Runtime`` with processes on this machine."""

    def __init__(self, store: SqliteStore, home: Path, drain_quiet: float = 1.0, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic, pod_factory: Callable[..., LocalPod] = LocalPod,
                 standby_delay: float = STANDBY_DELAY):
        self.clock = clock
        self.standby_delay = standby_delay
        """Seconds a revision's pods are all ready before its next standby starts (``STANDBY_DELAY``)."""
        self.pod_factory = pod_factory
        """``pod_factory(name, template, log_dir, drain_quiet, changed)`` makes a pod (``LocalPod``; tests pass fakes)."""
        self.store = store
        self.home = home
        self.drain_quiet = drain_quiet
        self.sidecar_env: dict[str, str] = {}
        """Set for every queue-proxy started from now on (the control plane fills it from config-observability)."""
        self.rng = rng or random.Random()
        self.deployments: dict[tuple[str, str], Deployment] = {}
        self.listeners: list[Callable[[str, str], None]] = []
        self.pod_listeners: list[Callable[[str, LocalPod], None]] = []
        self.tasks: set[asyncio.Task] = set()
        self.closing = False
        store.subscribe(self._on_store_event)

    # -- the Runtime interface -----------------------------------------------------------------

    async def ensure_revision(self, revision: dict, initial_scale: int) -> RevisionState:
        meta = revision["metadata"]
        key = (meta["namespace"], meta["name"])
        if key not in self.deployments:
            template, failure = None, None
            try:
                template = template_for(revision, str(self.home), self.sidecar_env)
            except NotRunnable as exc:
                failure = exc
            rs_name = f"{meta['name']}-deployment-{template.hash if template else 'none'}"
            rs = await self.store.get(REPLICASET, key[0], rs_name)
            if rs is None and template is not None:
                rs = await self.store.create(
                    {
                        "apiVersion": "apps/v1",
                        "kind": REPLICASET,
                        "metadata": {
                            "name": rs_name,
                            "namespace": key[0],
                            "labels": dict(template.labels),
                            "ownerReferences": [owner_reference(revision)],
                        },
                        "spec": {"replicas": initial_scale},
                        "status": {"replicas": 0, "readyReplicas": 0},
                    }
                )
            replicas = rs["spec"]["replicas"] if rs is not None else 0
            deadline = ProgressDeadline(progress_deadline(meta.get("annotations")))
            dep = self.deployments[key] = Deployment(key, template, failure, rs_name, replicas, deadline)
            # A revision that was available before a restart stays so at zero: no pod has to run to prove it
            # again, and its progress deadline is behind it.
            if c.condition_status(revision.get("status"), c.RESOURCES_AVAILABLE) == c.TRUE:
                dep.ever_ready = True
                deadline.ready()
            self._schedule(key)
        dep = self.deployments[key]
        dep.routed = (meta.get("labels") or {}).get(keys.ROUTING_STATE_LABEL) == keys.ROUTING_STATE_ACTIVE
        self._review_standby(dep)
        return self.revision_state(*key)

    def revision_state(self, namespace: str, name: str) -> RevisionState | None:
        dep = self.deployments.get((namespace, name))
        if dep is None:
            return None
        if dep.failure is not None:
            return RevisionState(0, (), dep.failure.reason, str(dep.failure))
        return RevisionState(dep.replicas, tuple(self._pod_state(p) for p in dep.pods.values()), ever_ready=dep.ever_ready)

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        dep = self.deployments.get((namespace, name))
        if dep is None or dep.template is None or dep.failure is not None or dep.replicas == replicas:
            return  # a revision past its progress deadline stays at zero: it has failed
        rs = await self.store.get(REPLICASET, namespace, dep.rs_name)
        if rs is None:
            return
        if replicas > dep.replicas and not dep.converging:
            # a scale-up starts its pods now, ahead of the write and of all it sets going (the controller,
            # the directory, their clients): from zero, a request is waiting for them
            dep.replicas = replicas
            for _ in range(replicas - sum(1 for p in dep.pods.values() if not p.terminating)):
                self._start_pod(dep)
            self._schedule(dep.key)  # the rest of convergence: the progress deadline
        rs["spec"]["replicas"] = replicas
        await self.store.update(rs)

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        self.listeners.append(listener)

    def subscribe_pods(self, listener: Callable[[str, LocalPod], None]) -> None:
        """``listener(namespace, pod)`` on every change of a pod (started, ready, restarted, stopping, done)."""
        self.pod_listeners.append(listener)

    # -- views for the API ---------------------------------------------------------------------

    def pods(self) -> list[LocalPod]:
        return [p for dep in self.deployments.values() for p in dep.pods.values()]

    def find_pod(self, namespace: str, name: str) -> LocalPod | None:
        for dep in self.deployments.values():
            if dep.key[0] == namespace and name in dep.pods:
                return dep.pods[name]
        return None

    @staticmethod
    def _pod_state(pod: LocalPod) -> PodState:
        return PodState(
            name=pod.name,
            phase=pod.phase,
            ready=pod.ready,
            restarts=pod.restarts,
            address=pod.address,
            stats_address=pod.stats_address,
            started_at=pod.started_at,
            waiting_reason=pod.waiting_reason,
            last_exit_code=pod.last_exit_code,
            message=pod.message,
            unready_reason=pod.unready_reason,
            unready_message=pod.unready_message,
        )

    # -- convergence ---------------------------------------------------------------------------

    def _on_store_event(self, event: str, obj: dict) -> None:
        if obj.get("kind") != REPLICASET:
            return
        meta = obj["metadata"]
        owner = next((r["name"] for r in meta.get("ownerReferences") or [] if r.get("kind") == keys.REVISION), None)
        key = (meta["namespace"], owner)
        dep = self.deployments.get(key)
        if dep is None:
            return
        if event == "DELETED":
            dep.replicas = 0
            self._drop_standby(dep)
            if dep.deadline_timer is not None:
                dep.deadline_timer.cancel()
            self.deployments.pop(key, None)
            for pod in dep.pods.values():
                pod.terminate("revision deleted")
            self._notify(key)
            return
        if dep.replicas != obj["spec"]["replicas"]:
            dep.replicas = obj["spec"]["replicas"]
            self._schedule(key)

    def _schedule(self, key: tuple[str, str]) -> None:
        dep = self.deployments.get(key)
        if dep is None or self.closing:
            return
        if dep.converging:
            dep.again = True
            return
        dep.converging = True
        task = asyncio.get_running_loop().create_task(self._converge(dep))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _converge(self, dep: Deployment) -> None:
        try:
            while True:
                dep.again = False
                if dep.template is None:
                    return
                active = [p for p in dep.pods.values() if not p.terminating]
                self._track_progress(dep)
                if len(active) < dep.replicas:
                    for _ in range(dep.replicas - len(active)):
                        self._start_pod(dep)
                elif len(active) > dep.replicas:
                    # pods not ready go first, then the idlest (as the Kubernetes backend's deletion costs
                    # make the ReplicaSet do); draining makes sure nothing in flight is cut either way
                    loads = await asyncio.gather(*(p.in_flight() for p in active))
                    ranked = sorted(zip([not p.ready for p in active], [-load for load in loads], range(len(active))), reverse=True)
                    for _, _, i in ranked[: len(active) - dep.replicas]:
                        active[i].terminate()
                if not dep.again:
                    return
        finally:
            dep.converging = False

    def _track_progress(self, dep: Deployment) -> None:
        """Run the progress deadline while pods are wanted and none has been ready."""
        if dep.replicas == 0:
            dep.progress.idle()
            due = None
        else:
            due = dep.progress.wanted(self.clock())
        if dep.deadline_timer is not None:
            dep.deadline_timer.cancel()
            dep.deadline_timer = None
        if due is not None and due != float("inf"):
            delay = max(0.0, due - self.clock())
            dep.deadline_timer = asyncio.get_running_loop().call_later(delay, self._deadline_due, dep.key)

    def _deadline_due(self, key: tuple[str, str]) -> None:
        dep = self.deployments.get(key)
        if dep is not None:
            dep.deadline_timer = None
            since = dep.progress.since
            if not self.check_progress(key) and since is not None and self.clock() < since + dep.progress.seconds:
                self._track_progress(dep)  # the loop may wake a little early: look again when it is due

    def check_progress(self, key: tuple[str, str]) -> bool:
        """Fail and scale to zero a revision whose progress deadline passed with no pod ever ready."""
        dep = self.deployments.get(key)
        if dep is None or dep.template is None or any(p.ready for p in dep.pods.values()):
            return False
        if not dep.progress.check(self.clock()):
            return False
        dep.failure = NotRunnable(PROGRESS_DEADLINE_EXCEEDED, dep.progress.message())
        self._drop_standby(dep)
        rs = self.store.cache.get((REPLICASET, key[0], dep.rs_name))
        if rs is not None:
            task = asyncio.get_running_loop().create_task(self.store.update({**rs, "spec": {**rs["spec"], "replicas": 0}}))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        self._notify(key)
        return True

    def _new_pod(self, dep: Deployment) -> LocalPod:
        name = f"{dep.rs_name}-{pod_suffix(self.rng)}"
        log_dir = self.home / "logs" / dep.key[0] / name
        pod = self.pod_factory(name, dep.template, log_dir, self.drain_quiet, lambda: self._pod_changed(dep, pod))
        return pod

    def _start_pod(self, dep: Deployment) -> None:
        pod, dep.standby = dep.standby, None
        if pod is None:
            pod = self._new_pod(dep)
        dep.pods[pod.name] = pod
        pod.start()
        self._review_standby(dep)  # a pod starting puts off the next standby

    # -- standby queue-proxies -------------------------------------------------------------------
    # A routed revision keeps its next pod's queue-proxy started and held, so that a cold start (from
    # zero or not) waits for the app alone: the sidecar's interpreter and imports are behind it. One
    # idle process per routed revision; revisions no Route sends traffic to keep none.

    def _standby_wanted(self, dep: Deployment) -> bool:
        return dep.routed and dep.template is not None and dep.failure is None and not self.closing and self.deployments.get(dep.key) is dep

    def _review_standby(self, dep: Deployment) -> None:
        """Start a standby when the revision wants one and its pods have been ready a while; drop it when unwanted."""
        if not self._standby_wanted(dep):
            self._drop_standby(dep)
            return
        if dep.standby is not None:
            return
        # a starting pod, and then its first answers, have the CPU to themselves: the standby's
        # interpreter start would slow them down
        settled = all(p.ready or p.terminating for p in dep.pods.values())
        if not settled:
            if dep.standby_timer is not None:
                dep.standby_timer.cancel()
                dep.standby_timer = None
            return
        loop = asyncio.get_running_loop()
        delay = self.standby_delay if dep.replicas > 0 else 0.0
        if dep.standby_timer is not None:
            if dep.standby_timer.when() <= loop.time() + delay:
                return
            dep.standby_timer.cancel()
        dep.standby_timer = loop.call_later(delay, self._standby_due, dep)

    def _standby_due(self, dep: Deployment) -> None:
        dep.standby_timer = None
        if dep.standby is None and self._standby_wanted(dep) and all(p.ready or p.terminating for p in dep.pods.values()):
            dep.standby = self._new_pod(dep)
            dep.standby.prestart()

    def _drop_standby(self, dep: Deployment) -> None:
        if dep.standby_timer is not None:
            dep.standby_timer.cancel()
            dep.standby_timer = None
        pod, dep.standby = dep.standby, None
        if pod is not None:
            task = asyncio.get_running_loop().create_task(pod.discard())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _pod_changed(self, dep: Deployment, pod: LocalPod) -> None:
        if pod.ready:
            dep.ever_ready = True
            dep.progress.ready()
            if dep.deadline_timer is not None:
                dep.deadline_timer.cancel()
                dep.deadline_timer = None
        if pod.done.is_set():
            dep.pods.pop(pod.name, None)
        if self.deployments.get(dep.key) is dep:
            self._write_rs_status(dep)
        self._review_standby(dep)
        for listener in self.pod_listeners:
            listener(dep.key[0], pod)
        self._notify(dep.key)

    def _write_rs_status(self, dep: Deployment) -> None:
        running = [p for p in dep.pods.values() if not p.terminating]
        status = {"replicas": len(running), "readyReplicas": sum(1 for p in running if p.ready)}
        status["availableReplicas"] = status["readyReplicas"]
        obj = self.store.cache.get((REPLICASET, dep.key[0], dep.rs_name))
        if obj is not None and obj.get("status") != status:
            task = asyncio.get_running_loop().create_task(self.store.update_status({**obj, "status": status}))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _notify(self, key: tuple[str, str]) -> None:
        for listener in self.listeners:
            listener(*key)

    async def close(self) -> None:
        """Stop every pod (drained), e.g. when `dataplane up` exits; the ReplicaSets stay for the next start."""
        self.closing = True
        standbys = []
        for dep in self.deployments.values():
            if dep.deadline_timer is not None:
                dep.deadline_timer.cancel()
            if dep.standby_timer is not None:
                dep.standby_timer.cancel()
            if dep.standby is not None:
                standbys.append(dep.standby.discard())
                dep.standby = None
        await asyncio.gather(*(p.kill() for p in self.pods()), *standbys)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def pod_object(pod: LocalPod) -> dict:
    """A pod as the API shows it (Kubernetes' Pod shape, the fields `get`/`describe` use)."""
    t = pod.template
    if pod.waiting_reason:
        user_state = {"waiting": {"reason": pod.waiting_reason, "message": pod.waiting_message}}
    elif pod.phase in ("Running", "Terminating"):
        user_state = {"running": {"startedAt": now_rfc3339(lambda: pod.started_at or pod.created)}}
    else:
        user_state = {"waiting": {"reason": "ContainerCreating"}}
    user = {"name": "user-container", "ready": pod.app_ready and not pod.terminating, "restartCount": pod.restarts, "state": user_state}
    if pod.last_exit_code is not None:
        terminated = {"exitCode": pod.last_exit_code, "reason": pod.last_exit_reason or ("Error" if pod.last_exit_code else "Completed")}
        if pod.message:
            terminated["message"] = pod.message
        user["lastState"] = {"terminated": terminated}
    qp_running = pod.phase in ("Running", "Terminating")
    qp = {
        "name": "queue-proxy",
        "ready": pod.ready,
        "restartCount": pod.qp_restarts,
        "state": {"running": {}} if qp_running else {"waiting": {"reason": "ContainerCreating"}},
    }
    meta = {
        "name": pod.name,
        "namespace": t.namespace,
        "labels": dict(t.labels),
        "creationTimestamp": now_rfc3339(lambda: pod.created),
    }
    if pod.terminating:
        meta["deletionTimestamp"] = now_rfc3339()
    ready_cond = {"type": "Ready", "status": "True" if pod.ready else "False"}
    if not pod.ready and pod.unready_reason:
        ready_cond.update(reason=pod.unready_reason, message=pod.unready_message)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [
                {"name": "user-container", "command": list(t.argv), "workingDir": t.working_dir, "env": [{"name": "PORT", "value": str(pod.ports["user"])}]},
                {"name": "queue-proxy", "ports": [{"name": n, "containerPort": pod.ports[n]} for n in ("serving", "admin", "stats", "metrics")]},
            ]
        },
        "status": {
            "phase": "Running" if pod.phase == "Terminating" else pod.phase,
            "reason": "Terminating" if pod.terminating else "",
            "podIP": "127.0.0.1",
            "startTime": now_rfc3339(lambda: pod.started_at or pod.created),
            "conditions": [ready_cond],
            "containerStatuses": [user, qp],
        },
    }


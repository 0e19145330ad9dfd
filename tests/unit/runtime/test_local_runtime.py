"""The local runtime on fake pods: a revision's ReplicaSet in the store, pods named for it, scaling up and
down (idle pods first), the ReplicaSet's status, and why pods are told to stop."""

from __future__ import annotations

import asyncio
import random

import pytest

from dataplane.api import keys, owner_reference
from dataplane.controller.runtime import PodState
from dataplane.platform.local.pods import pod_suffix
from dataplane.platform.local.podspec import template_for
from dataplane.platform.local.runtime import LocalRuntime
from dataplane.platform.local.store import SqliteStore
from tests.unit.runtime.fakeprocs import until

NS = "default"
SEED = 7


class FakePod:
    """What the runtime uses of a ``LocalPod``; the test makes it ready, busy, or end."""

    def __init__(self, name, template, log_dir, drain_quiet, changed):
        self.name, self.template, self.log_dir, self.changed = name, template, log_dir, changed
        self.phase, self.ready, self.terminating, self.stop_reason = "Pending", False, False, ""
        self.restarts, self.started_at, self.last_exit_code = 0, 0.0, None
        self.waiting_reason = self.message = self.unready_reason = self.unready_message = ""
        self.address, self.stats_address = f"127.0.0.1:{len(name)}", ""
        self.load = 0.0
        self.done = asyncio.Event()
        self.held = self.discarded = False

    def prestart(self) -> None:
        self.held = True

    async def discard(self) -> None:
        self.discarded = True

    def start(self) -> None:
        self.phase = "Running"

    def become_ready(self) -> None:
        self.ready = True
        self.changed()

    def terminate(self, reason: str = "scaled down") -> None:
        if self.terminating:
            return
        self.terminating, self.ready, self.phase, self.stop_reason = True, False, "Terminating", reason
        self.changed()

    def finish(self) -> None:
        self.phase = "Succeeded"
        self.done.set()
        self.changed()

    async def kill(self) -> None:
        self.terminate("dataplane up stopping")
        self.finish()

    async def in_flight(self) -> float:
        return self.load


def revision(name: str = "web-00001", command: list[str] | None = None, routing: str | None = None) -> dict:
    container = {"image": "a", **({"command": command} if command is not None else {"command": ["app"]})}
    labels = {keys.CONFIGURATION_LABEL: "web", keys.SERVICE_LABEL: "web"}
    if routing is not None:
        labels[keys.ROUTING_STATE_LABEL] = routing
    return {"apiVersion": keys.API_VERSION, "kind": "Revision",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"containers": [container]}}


@pytest.fixture
async def rig(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    pods: list[FakePod] = []

    def make_pod(*args):
        pods.append(FakePod(*args))
        return pods[-1]

    runtime = LocalRuntime(store, tmp_path, rng=random.Random(SEED), pod_factory=make_pod, standby_delay=0.0)
    notified: list[tuple[str, str]] = []
    runtime.subscribe(lambda ns, name: notified.append((ns, name)))
    yield store, runtime, pods, notified
    await runtime.close()
    store.close()


async def settle(runtime: LocalRuntime) -> None:
    """Until the runtime's own tasks (convergence, status writes) are done."""
    while runtime.tasks:
        await asyncio.gather(*list(runtime.tasks))


def live(pods: list[FakePod]) -> list[FakePod]:
    return [p for p in pods if not p.terminating]


async def test_a_revision_gets_a_replica_set_and_pods_named_for_it(rig, tmp_path):
    store, runtime, pods, _ = rig
    rev = await store.create(revision())
    state = await runtime.ensure_revision(rev, 2)
    await settle(runtime)
    rs_name = f"web-00001-deployment-{template_for(rev, str(tmp_path)).hash}"
    rs = await store.get("ReplicaSet", NS, rs_name)
    assert rs["spec"] == {"replicas": 2}
    assert rs["metadata"]["ownerReferences"] == [owner_reference(rev)]
    assert rs["metadata"]["labels"] == {keys.REVISION_LABEL: "web-00001", keys.CONFIGURATION_LABEL: "web", keys.SERVICE_LABEL: "web"}
    rng = random.Random(SEED)
    assert [p.name for p in pods] == [f"{rs_name}-{pod_suffix(rng)}" for _ in range(2)]
    assert all(p.log_dir == tmp_path / "logs" / NS / p.name for p in pods)
    assert state.replicas == 2
    assert runtime.revision_state(NS, "web-00001").pods == tuple(
        PodState(p.name, "Running", False, address=p.address) for p in pods)


async def test_ensuring_again_changes_nothing(rig):
    store, runtime, pods, _ = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, 1)
    await settle(runtime)
    await runtime.ensure_revision(rev, 5)
    await settle(runtime)
    assert len(pods) == 1 and len(await store.list("ReplicaSet")) == 1


async def test_after_a_restart_the_replica_sets_replicas_win_over_the_initial_scale(rig, tmp_path):
    store, runtime, pods, _ = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, 3)
    await settle(runtime)
    again = LocalRuntime(store, tmp_path, pod_factory=lambda *args: pods.append(FakePod(*args)) or pods[-1])
    try:
        await again.ensure_revision(rev, 1)
        await settle(again)
        assert again.revision_state(NS, "web-00001").replicas == 3 and len(pods) == 6
    finally:
        await again.close()


# replicas: initial, then asked for -> pods running, pods stopped
SCALES = [
    pytest.param(1, [3], 3, 0, id="up"),
    pytest.param(3, [1], 1, 2, id="down"),
    pytest.param(2, [0], 0, 2, id="to zero"),
    pytest.param(0, [2], 2, 0, id="from zero"),
    pytest.param(1, [4, 2], 2, 2, id="up then down"),
]


@pytest.mark.parametrize(("initial", "asked", "running", "stopped"), SCALES)
async def test_scale_writes_the_replica_set_and_pods_follow(rig, initial, asked, running, stopped):
    store, runtime, pods, _ = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, initial)
    await settle(runtime)
    for replicas in asked:
        await runtime.scale(NS, "web-00001", replicas)
        await settle(runtime)
    (rs,) = await store.list("ReplicaSet", NS)
    assert rs["spec"]["replicas"] == asked[-1]
    assert (len(live(pods)), len(pods) - len(live(pods))) == (running, stopped)
    assert {p.stop_reason for p in pods if p.terminating} <= {"scaled down"}


async def test_a_replica_set_scaled_by_someone_else_is_followed(rig):
    store, runtime, pods, _ = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, 1)
    await settle(runtime)
    (rs,) = await store.list("ReplicaSet", NS)
    rs["spec"]["replicas"] = 3
    await store.update(rs)
    await settle(runtime)
    assert len(live(pods)) == 3


# pods' (ready, requests in flight) -> which are stopped when one must go
DOWN = [
    pytest.param([(True, 3.0), (True, 0.0)], [1], id="the idle one"),
    pytest.param([(True, 0.0), (False, float("inf"))], [1], id="the one not ready"),
    pytest.param([(True, 5.0), (False, 0.0)], [1], id="not ready before busy"),
    pytest.param([(True, 2.0), (True, 7.0), (True, 1.0)], [2], id="the least busy of three"),
]


@pytest.mark.parametrize(("shape", "chosen"), DOWN)
async def test_scaling_down_stops_idle_and_unready_pods_first(rig, shape, chosen):
    store, runtime, pods, _ = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, len(shape))
    await settle(runtime)
    for pod, (ready, load) in zip(pods, shape):
        pod.ready, pod.load = ready, load
    await runtime.scale(NS, "web-00001", len(shape) - len(chosen))
    await settle(runtime)
    assert [i for i, p in enumerate(pods) if p.terminating] == chosen


async def test_the_replica_set_status_counts_ready_pods_and_the_revision_hears_of_each_change(rig):
    store, runtime, pods, notified = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, 2)
    await settle(runtime)
    notified.clear()
    pods[0].become_ready()
    await settle(runtime)
    (rs,) = await store.list("ReplicaSet", NS)
    assert rs["status"] == {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1}
    assert notified == [(NS, "web-00001")]
    state = runtime.revision_state(NS, "web-00001")
    assert (state.ready_pods, state.ever_ready) == (1, True)
    await runtime.scale(NS, "web-00001", 1)
    await settle(runtime)
    pods[1].finish()
    await settle(runtime)
    assert [p.name for p in runtime.pods()] == [pods[0].name]
    (rs,) = await store.list("ReplicaSet", NS)
    assert rs["status"] == {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}


async def test_deleting_the_revision_stops_its_pods_and_forgets_it(rig):
    store, runtime, pods, notified = rig
    rev = await store.create(revision())
    await runtime.ensure_revision(rev, 2)
    await settle(runtime)
    notified.clear()
    await store.delete("Revision", NS, "web-00001")  # its ReplicaSet goes with it
    await settle(runtime)
    assert [p.stop_reason for p in pods] == ["revision deleted"] * 2
    assert runtime.revision_state(NS, "web-00001") is None and notified[-1] == (NS, "web-00001")
    assert await store.list("ReplicaSet") == []


async def test_closing_stops_every_pod_and_keeps_the_replica_sets(rig):
    store, runtime, pods, _ = rig
    for name in ("web-00001", "web-00002"):
        await runtime.ensure_revision(await store.create(revision(name)), 1)
    await settle(runtime)
    await runtime.close()
    assert [(p.stop_reason, p.done.is_set()) for p in pods] == [("dataplane up stopping", True)] * 2
    assert len(await store.list("ReplicaSet")) == 2


async def test_a_revision_that_cannot_run_has_no_replica_set_and_cannot_be_scaled(rig):
    store, runtime, pods, _ = rig
    rev = await store.create(revision(command=[]))
    state = await runtime.ensure_revision(rev, 1)
    await runtime.scale(NS, "web-00001", 3)
    await settle(runtime)
    assert (state.failure, state.replicas, pods) == ("CommandMissing", 0, [])
    assert await store.list("ReplicaSet") == []


async def test_pods_are_found_by_namespace_and_name(rig):
    store, runtime, pods, _ = rig
    await runtime.ensure_revision(await store.create(revision()), 1)
    await settle(runtime)
    await until(lambda: pods)
    assert runtime.find_pod(NS, pods[0].name) is pods[0]
    assert runtime.find_pod("other", pods[0].name) is None and runtime.find_pod(NS, "nope") is None


# -- standby pods: a routed revision's next pod, its queue-proxy started ahead ------------------------


async def turns(n: int = 3) -> None:
    """A few loop turns: timers due now run (no wall-clock time passes)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_routed_revision_keeps_a_standby_that_the_next_pod_start_takes(rig):
    store, runtime, pods, _ = rig
    rev = await store.create(revision(routing=keys.ROUTING_STATE_ACTIVE))
    await runtime.ensure_revision(rev, 0)
    await settle(runtime)
    await turns()
    (spare,) = pods
    assert spare.held and spare.phase == "Pending"
    assert runtime.pods() == [] and runtime.revision_state(NS, "web-00001").pods == ()  # nobody sees it
    await runtime.scale(NS, "web-00001", 1)
    await settle(runtime)
    assert runtime.pods() == [spare] and spare.phase == "Running" and len(pods) == 1
    # no second standby while the pod starts: its interpreter would take CPU from the app's start
    spare.become_ready()
    await settle(runtime)
    await turns()
    assert len(pods) == 2 and pods[1].held and pods[1] not in runtime.pods()
    await runtime.scale(NS, "web-00001", 2)
    await settle(runtime)
    assert runtime.pods() == pods and len(pods) == 2  # the standby became the second pod


@pytest.mark.parametrize("routing", [None, keys.ROUTING_STATE_PENDING, keys.ROUTING_STATE_RESERVE])
async def test_a_revision_no_route_sends_traffic_to_keeps_no_standby(rig, routing):
    store, runtime, pods, _ = rig
    rev = await store.create(revision(routing=routing))
    await runtime.ensure_revision(rev, 0)
    await settle(runtime)
    await turns()
    assert pods == []


async def test_the_standby_is_discarded_when_the_revision_is_unrouted_deleted_or_the_runtime_closes(rig):
    store, runtime, pods, _ = rig
    rev = await store.create(revision(routing=keys.ROUTING_STATE_ACTIVE))
    await runtime.ensure_revision(rev, 0)
    await settle(runtime)
    await turns()
    rev["metadata"]["labels"][keys.ROUTING_STATE_LABEL] = keys.ROUTING_STATE_RESERVE
    await runtime.ensure_revision(rev, 0)
    await settle(runtime)
    await turns()
    assert [p.discarded for p in pods] == [True]
    rev["metadata"]["labels"][keys.ROUTING_STATE_LABEL] = keys.ROUTING_STATE_ACTIVE
    await runtime.ensure_revision(rev, 0)
    await settle(runtime)
    await turns()
    assert [p.discarded for p in pods] == [True, False]
    await store.delete("Revision", NS, "web-00001")
    await settle(runtime)
    assert [p.discarded for p in pods] == [True, True]

    other = await store.create(revision("web-00002", routing=keys.ROUTING_STATE_ACTIVE))
    await runtime.ensure_revision(other, 0)
    await settle(runtime)
    await turns()
    await runtime.close()
    assert [p.discarded for p in pods] == [True, True, True] and all(p.phase == "Pending" for p in pods)


async def test_the_next_standby_waits_for_the_pods_to_have_been_ready_a_while(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    pods: list[FakePod] = []
    runtime = LocalRuntime(store, tmp_path, pod_factory=lambda *a: pods.append(FakePod(*a)) or pods[-1], standby_delay=1000.0)
    try:
        rev = await store.create(revision(routing=keys.ROUTING_STATE_ACTIVE))
        await runtime.ensure_revision(rev, 1)  # straight to a pod: no standby to take yet
        await settle(runtime)
        await turns()
        dep = runtime.deployments[(NS, "web-00001")]
        assert len(pods) == 1 and dep.standby is None and dep.standby_timer is None  # starting: none
        pods[0].become_ready()
        await settle(runtime)
        await turns()
        timer = dep.standby_timer
        assert timer is not None and dep.standby is None and len(pods) == 1
        assert timer.when() - asyncio.get_running_loop().time() > 999  # after the delay, not at once
        await runtime.scale(NS, "web-00001", 2)  # another pod starting: the timer is off
        await settle(runtime)
        assert dep.standby_timer is None and timer.cancelled()
        pods[1].become_ready()
        await settle(runtime)
        assert dep.standby_timer.when() - asyncio.get_running_loop().time() > 999
        await runtime.scale(NS, "web-00001", 0)  # idle at zero: the standby starts at once
        await settle(runtime)
        await turns()
        assert dep.standby is pods[2] and pods[2].held and dep.standby_timer is None
    finally:
        await runtime.close()
        store.close()


async def test_a_scale_up_starts_its_pods_before_writing_the_replica_set(rig):
    store, runtime, pods, _ = rig
    rev = await store.create(revision(routing=keys.ROUTING_STATE_ACTIVE))
    await runtime.ensure_revision(rev, 0)
    await settle(runtime)
    await turns()
    (spare,) = pods
    running_at_write = []
    update = store.update

    async def recording_update(obj):
        if obj["kind"] == "ReplicaSet":
            running_at_write.append([p.name for p in pods if p.phase == "Running"])
        return await update(obj)

    store.update = recording_update
    await runtime.scale(NS, "web-00001", 2)
    # the standby and a new pod were running when the write began: nothing it sets going delays them
    assert running_at_write[0] == [spare.name, pods[1].name] and len(pods) == 2
    await settle(runtime)
    (rs,) = await store.list("ReplicaSet", NS)
    assert rs["spec"]["replicas"] == 2 and len(live(pods)) == 2 and runtime.revision_state(NS, "web-00001").replicas == 2

"""A revision's conditions follow its pods: a crash after Ready, a crash loop, an app that does not listen,
a progress deadline that ran out; and what the directory tells the activator about each."""

from __future__ import annotations

import pytest

from dataplane.api import conditions as c
from dataplane.controller import health
from dataplane.controller.reconcilers import reconcile_configuration, reconcile_revision
from dataplane.controller.runtime import PodState, RevisionState
from dataplane.api.config import Config
from dataplane.platform.local.progress import ProgressDeadline
from dataplane.platform.local.runtime import LocalRuntime
from dataplane.platform.local.store import SqliteStore

T0 = 1_000_000.0
READY = PodState("p1", "Running", True, address="127.0.0.1:1")
STARTING = PodState("p1", "Running", False, address="127.0.0.1:1")
RESTARTING = PodState("p1", "Running", False, restarts=1, last_exit_code=1, message="the command exited with code 1; last log lines: boom")
BACKING_OFF = PodState("p1", "Running", False, restarts=2, waiting_reason="CrashLoopBackOff", last_exit_code=1,
                       message="the command exited with code 1; last log lines: boom")
QUIET = PodState("p1", "Running", False, unready_reason="ContainerNotListening",
                 unready_message="nothing is listening on PORT=8123 after 5 s")


class ScriptedRuntime:
    """A runtime whose revision state the test sets."""

    def __init__(self, state: RevisionState):
        self.state = state

    async def ensure_revision(self, revision, initial_scale):
        return self.state


def revision() -> dict:
    return {
        "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {"name": "crash-00001", "namespace": "default", "generation": 1,
                     "labels": {"serving.knative.dev/configuration": "crash", "serving.knative.dev/configurationGeneration": "1"}},
        "spec": {"containers": [{"image": "x", "command": ["app"]}]},
    }


def configuration() -> dict:
    return {
        "apiVersion": "serving.knative.dev/v1", "kind": "Configuration",
        "metadata": {"name": "crash", "namespace": "default", "generation": 1},
        "spec": {"template": {"metadata": {"name": "crash-00001"}, "spec": {"containers": [{"image": "x", "command": ["app"]}]}}},
    }


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(tmp_path / "state.db")
    yield s
    s.close()


async def step(store, runtime, state: RevisionState, now: float) -> dict:
    runtime.state = state
    rev = await store.get("Revision", "default", "crash-00001")
    await reconcile_revision(store, runtime, rev, 1, now)
    return (await store.get("Revision", "default", "crash-00001"))["status"]


def cond(status, type_) -> tuple:
    got = c.get_condition(status, type_) or {}
    return got.get("status"), got.get("reason"), got.get("message")


async def test_a_crash_after_ready_fails_the_revision_until_a_pod_is_ready_again(store):
    await store.create(revision())
    runtime = ScriptedRuntime(RevisionState(1))
    status = await step(store, runtime, RevisionState(1, (READY,), ever_ready=True), T0)
    assert cond(status, c.READY)[0] == c.TRUE

    status = await step(store, runtime, RevisionState(1, (BACKING_OFF,), ever_ready=True), T0 + 10)
    healthy = cond(status, c.CONTAINER_HEALTHY)
    assert healthy[:2] == (c.FALSE, "ExitCode1")
    assert healthy[2] == "Container failed with: the command exited with code 1; last log lines: boom"
    assert cond(status, c.READY)[:2] == (c.FALSE, "ExitCode1")
    assert cond(status, c.RESOURCES_AVAILABLE)[0] == c.TRUE
    active = cond(status, c.ACTIVE)
    assert active[:2] == (c.FALSE, "ExitCode1") and "503" in active[2] and "buffered" not in active[2]

    # the Configuration (and through it the Service) says the latest revision failed
    await store.create(configuration())
    await reconcile_configuration(store, await store.get("Configuration", "default", "crash"), Config(), T0 + 11)
    config_ready = cond((await store.get("Configuration", "default", "crash"))["status"], c.READY)
    assert config_ready[:2] == (c.FALSE, "RevisionFailed") and "ExitCode" not in config_ready[2] and "boom" in config_ready[2]

    # scaled to zero it stays failed; a ready pod heals it
    status = await step(store, runtime, RevisionState(0, (), ever_ready=True), T0 + 20)
    assert cond(status, c.READY)[0] == c.FALSE
    status = await step(store, runtime, RevisionState(1, (READY,), ever_ready=True), T0 + 30)
    assert cond(status, c.CONTAINER_HEALTHY)[0] == c.TRUE and cond(status, c.READY)[0] == c.TRUE


async def test_a_revision_that_never_listens_says_so_and_its_configuration_too(store):
    await store.create(revision())
    runtime = ScriptedRuntime(RevisionState(1))
    status = await step(store, runtime, RevisionState(1, (QUIET,)), T0)
    assert cond(status, c.READY) == (c.UNKNOWN, "ContainerNotListening", "nothing is listening on PORT=8123 after 5 s")
    await store.create(configuration())
    await reconcile_configuration(store, await store.get("Configuration", "default", "crash"), Config(), T0 + 1)
    config = await store.get("Configuration", "default", "crash")
    assert cond(config["status"], c.READY) == (c.UNKNOWN, "ContainerNotListening", "nothing is listening on PORT=8123 after 5 s")
    # reconciling again writes nothing new (no loop of status updates)
    before = config["metadata"]["resourceVersion"]
    await reconcile_configuration(store, config, Config(), T0 + 2)
    assert (await store.get("Configuration", "default", "crash"))["metadata"]["resourceVersion"] == before


async def test_waiting_for_the_first_pod_does_not_claim_requests_are_buffered(store):
    await store.create(revision())
    status = await step(store, ScriptedRuntime(RevisionState(1)), RevisionState(1, (STARTING,)), T0)
    active = cond(status, c.ACTIVE)
    assert active[:2] == (c.UNKNOWN, "Activating") and "buffered" not in active[2]


async def test_progress_deadline_exceeded_fails_resources(store):
    await store.create(revision())
    state = RevisionState(0, (), health.PROGRESS_DEADLINE_EXCEEDED, "did not become ready within 2s")
    status = await step(store, ScriptedRuntime(state), state, T0)
    assert cond(status, c.RESOURCES_AVAILABLE) == (c.FALSE, "ProgressDeadlineExceeded", "did not become ready within 2s")
    assert cond(status, c.READY)[:2] == (c.FALSE, "ProgressDeadlineExceeded")
    assert cond(status, c.ACTIVE)[:2] == (c.FALSE, "ProgressDeadlineExceeded")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (RevisionState(1, (STARTING,)), None),  # a cold start: requests wait
        (RevisionState(1, (RESTARTING,)), None),  # one crash, restarting at once: requests wait
        (RevisionState(0, ()), None),  # scaled to zero: a request brings a pod
        (RevisionState(1, (BACKING_OFF,)), "ExitCode1"),
        (RevisionState(2, (BACKING_OFF, READY)), None),  # another pod serves
        (RevisionState(2, (BACKING_OFF, STARTING)), None),
        (RevisionState(1, (QUIET,)), None),  # may still start to listen
        (RevisionState(0, (), "CommandMissing", "no command"), "CommandMissing"),
    ],
)
def test_serving_failure_only_when_waiting_is_pointless(state, expected):
    problem = health.serving_failure(state)
    assert (problem.reason if problem else None) == expected


def test_progress_deadline_runs_from_wanted_until_ready():
    deadline = ProgressDeadline(600)
    assert deadline.wanted(100.0) == 700.0
    assert deadline.wanted(150.0) == 700.0  # the clock started at the first want
    assert not deadline.check(699.9)
    assert deadline.check(700.0) and deadline.exceeded
    assert not deadline.check(800.0)  # once
    healthy = ProgressDeadline(600)
    healthy.wanted(0.0)
    healthy.ready()
    assert healthy.wanted(1000.0) is None and not healthy.check(5000.0)
    idle = ProgressDeadline(600)
    idle.wanted(0.0)
    idle.idle()  # scaled to zero before the deadline: it starts over
    assert idle.wanted(1000.0) == 1600.0


class Clock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_local_runtime_scales_a_revision_past_its_deadline_to_zero(tmp_path, store):
    clock = Clock(50.0)
    runtime = LocalRuntime(store, tmp_path, clock=clock)
    rev = revision()
    rev["metadata"]["annotations"] = {"serving.knative.dev/progress-deadline": "2s"}
    rev["spec"]["containers"][0]["command"] = ["python3", "-c", "pass"]
    rev = await store.create(rev)
    try:
        await runtime.ensure_revision(rev, 0)  # no pod started by the test
        dep = runtime.deployments[("default", "crash-00001")]
        dep.replicas = 1
        runtime._track_progress(dep)
        clock.now = 51.9
        assert not runtime.check_progress(dep.key)
        runtime._deadline_due(dep.key)  # the loop woke a little early: it looks again later
        assert dep.deadline_timer is not None and dep.failure is None
        clock.now = 52.0
        assert runtime.check_progress(dep.key)
        state = runtime.revision_state("default", "crash-00001")
        assert (state.failure, state.replicas) == ("ProgressDeadlineExceeded", 0)
        assert "progress deadline (2s)" in state.failure_message
        await runtime.scale("default", "crash-00001", 1)  # the autoscaler asking again changes nothing
        for task in list(runtime.tasks):
            await task
        rs = await store.get("ReplicaSet", "default", dep.rs_name)
        assert rs["spec"]["replicas"] == 0
    finally:
        await runtime.close()

"""The Revision reconciler: its conditions (Ready = ResourcesAvailable and ContainerHealthy; Active apart) and
replica counts from the runtime's state of it, and the initial scale it asks for."""

from __future__ import annotations

import pytest

from dataplane.api import keys
from dataplane.api import conditions as c
from dataplane.controller.runtime import PodState, RevisionState
from tests.unit.controller.fakeruntime import crashed, failed, not_listening, ready_pods, starting
from tests.unit.controller.world import NS, World, cond

NAME = "web-00001"
WAITING = ("Unknown", "Activating", "Waiting for a pod to become ready (0 of 1); requests that arrive meanwhile wait for it.")
CRASH_MESSAGE = "Container failed with: the command exited with code 3; last log lines: boom"
NO_POD = "No pod can serve the revision: requests for it are answered 503 at once."


def revision(annotations: dict | None = None) -> dict:
    return {"apiVersion": keys.API_VERSION, "kind": "Revision",
            "metadata": {"name": NAME, "namespace": NS, "annotations": annotations or {},
                         "labels": {keys.CONFIGURATION_LABEL: "web", keys.CONFIGURATION_GENERATION_LABEL: "1"}},
            "spec": {"containers": [{"image": "a", "command": ["app"]}]}}


S = RevisionState
# runtime state -> Ready, ResourcesAvailable, ContainerHealthy, Active (status, reason, message), actual, desired replicas
ROWS = [
    pytest.param(starting(), ("Unknown", "Deploying", ""), ("Unknown", "Deploying", ""), ("Unknown", "", ""), WAITING, 0, 1,
                 id="first pod starting"),
    pytest.param(ready_pods(2), ("True", "", ""), ("True", "", ""), ("True", "", ""), ("True", "", ""), 2, 2, id="pods ready"),
    pytest.param(S(0, (), ever_ready=True), ("True", "", ""), ("True", "", ""), ("True", "", ""),
                 ("False", "NoTraffic", "The target is not receiving traffic."), 0, 0, id="scaled to zero after ready: still Ready"),
    pytest.param(S(0), ("Unknown", "Deploying", ""), ("Unknown", "Deploying", ""), ("Unknown", "", ""),
                 ("False", "NoTraffic", "The target is not receiving traffic."), 0, 0, id="never ready, no pods wanted"),
    pytest.param(crashed(3), ("False", "ExitCode3", CRASH_MESSAGE), ("Unknown", "Deploying", ""), ("False", "ExitCode3", CRASH_MESSAGE),
                 WAITING, 0, 1, id="the app exited: ContainerHealthy False with its exit code"),
    pytest.param(crashed(3, backing_off=True), ("False", "ExitCode3", CRASH_MESSAGE), ("Unknown", "Deploying", ""),
                 ("False", "ExitCode3", CRASH_MESSAGE), ("False", "ExitCode3", NO_POD), 0, 1, id="crash loop back-off: no pod can serve"),
    pytest.param(S(2, (PodState("a", "Running", True), crashed(1).pods[0]), ever_ready=True), ("True", "", ""), ("True", "", ""), ("True", "", ""),
                 ("True", "", ""), 1, 2, id="one pod ready and one crashed: healthy"),
    pytest.param(not_listening(),
                 ("Unknown", "ContainerNotListening", "nothing is listening on PORT=8123 after 5 s"),
                 ("Unknown", "ContainerNotListening", "nothing is listening on PORT=8123 after 5 s"),
                 ("Unknown", "ContainerNotListening", "nothing is listening on PORT=8123 after 5 s"), WAITING, 0, 1,
                 id="nothing listens on PORT"),
    pytest.param(failed("CommandMissing", "add `command`"), ("False", "CommandMissing", "add `command`"),
                 ("False", "CommandMissing", "add `command`"), ("False", "CommandMissing", "add `command`"),
                 ("False", "CommandMissing", NO_POD), 0, 0, id="cannot run at all"),
    pytest.param(failed("ProgressDeadlineExceeded", "not ready within 2s"), ("False", "ProgressDeadlineExceeded", "not ready within 2s"),
                 ("False", "ProgressDeadlineExceeded", "not ready within 2s"), ("Unknown", "", ""),
                 ("False", "ProgressDeadlineExceeded", NO_POD), 0, 0, id="progress deadline exceeded: resources, not the container"),
    pytest.param(S(1, (PodState("a", "Terminating", False, last_exit_code=1),)), ("Unknown", "Deploying", ""), ("Unknown", "Deploying", ""),
                 ("Unknown", "", ""), WAITING, 0, 1, id="a terminating pod's exit is no crash"),
]


@pytest.mark.parametrize(("state", "ready", "resources", "healthy", "active", "actual", "desired"), ROWS)
async def test_conditions_follow_the_runtime(state, ready, resources, healthy, active, actual, desired):
    world = World()
    await world.create(revision())
    world.runtime.states[(NS, NAME)] = state
    got = await world.reconcile("Revision", NAME)
    assert cond(got, c.READY) == ready
    assert cond(got, c.RESOURCES_AVAILABLE) == resources
    assert cond(got, c.CONTAINER_HEALTHY) == healthy
    assert cond(got, c.ACTIVE) == active
    assert (got["status"]["actualReplicas"], got["status"]["desiredReplicas"]) == (actual, desired)
    assert got["status"]["observedGeneration"] == 1


async def test_a_crashed_revision_scaled_to_zero_stays_failed_until_a_pod_is_ready():
    world = World()
    await world.create(revision())
    for state, healthy in ((ready_pods(1), "True"), (crashed(1, ever_ready=True), "False"), (S(0, (), ever_ready=True), "False"),
                           (ready_pods(1), "True")):
        world.runtime.states[(NS, NAME)] = state
        got = await world.reconcile("Revision", NAME)
        assert cond(got, c.CONTAINER_HEALTHY)[0] == healthy


async def test_restarts_are_reported_once_the_revision_was_ready():
    world = World()
    await world.create(revision())
    restarted = S(1, (PodState("a", "Running", True, restarts=4),), ever_ready=True)
    for state, expected in ((S(1, (PodState("a", "Running", False, restarts=2),)), None),
                            (restarted, [{"name": "user-container", "restartCount": 4}])):
        world.runtime.states[(NS, NAME)] = state
        got = await world.reconcile("Revision", NAME)
        assert got["status"].get("containerStatuses") == expected


# annotations, the platform's initial scale -> what ensure_revision is asked for
INITIAL_SCALE = [
    pytest.param({}, 1, 1, id="the platform's"),
    pytest.param({"autoscaling.knative.dev/initial-scale": "3"}, 1, 3, id="annotation"),
    pytest.param({"autoscaling.knative.dev/initialScale": "2"}, 1, 2, id="legacy annotation"),
    pytest.param({"autoscaling.knative.dev/initial-scale": "0"}, 1, 0, id="zero"),
    pytest.param({"autoscaling.knative.dev/initial-scale": "-4"}, 1, 0, id="negative is zero"),
    pytest.param({"autoscaling.knative.dev/initial-scale": "many"}, 2, 2, id="unreadable: the platform's"),
]


@pytest.mark.parametrize(("annotations", "platform", "asked"), INITIAL_SCALE)
async def test_initial_scale(annotations, platform, asked):
    world = World(initial_scale=platform)
    await world.create(revision(annotations))
    await world.reconcile("Revision", NAME)
    assert world.runtime.calls == [("ensure", NS, NAME, asked)]


async def test_an_unchanged_state_writes_nothing():
    world = World()
    await world.create(revision())
    world.runtime.states[(NS, NAME)] = ready_pods(1)
    await world.reconcile("Revision", NAME)
    writes = len(world.store.writes)
    world.clock.now += 60
    await world.reconcile("Revision", NAME)
    assert len(world.store.writes) == writes

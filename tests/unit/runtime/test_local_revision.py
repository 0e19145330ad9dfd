"""A Revision the local runtime cannot run reports why, naming the field to add."""

from __future__ import annotations

import pytest

from dataplane.api import admit
from dataplane.api import conditions as c
from dataplane.controller.reconcilers import reconcile_revision
from dataplane.controller.runtime import RevisionState
from dataplane.platform.local.podspec import NotRunnable, template_for
from dataplane.platform.local.store import SqliteStore


def revision(container: dict) -> dict:
    svc = admit(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "img"},
            "spec": {"template": {"spec": {"containers": [container]}}},
        }
    )
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": "img-00001", "namespace": "default", "labels": {}, "annotations": {}},
        "spec": svc["spec"]["template"]["spec"],
    }


def test_an_image_alone_is_not_runnable_and_names_command():
    with pytest.raises(NotRunnable) as err:
        template_for(revision({"image": "docker.io/example/app"}), "/tmp")
    assert err.value.reason == "CommandMissing"
    assert "command" in str(err.value) and "docker.io/example/app" in str(err.value)


def test_a_command_runs_with_the_runtime_contract_env():
    t = template_for(
        revision({"command": ["node", "index.js"], "args": ["--x"], "env": [{"name": "A", "value": "1"}], "workingDir": "/srv"}), "/tmp"
    )
    assert t.argv == ("node", "index.js", "--x") and t.working_dir == "/srv"
    env = t.app_env(4321)
    assert (env["PORT"], env["A"], env["K_REVISION"]) == ("4321", "1", "img-00001")


PORTS = {"serving": 40001, "admin": 40002, "stats": 40003, "metrics": 40004, "user": 40005}


@pytest.mark.parametrize(("ports", "protocol"), [(None, "http1"), ([{"containerPort": 9000}], "http1"),
                                                  ([{"name": "http1", "containerPort": 9000}], "http1"),
                                                  ([{"name": "h2c", "containerPort": 9000}], "h2c")])  # fmt: skip
def test_the_queue_proxy_speaks_to_the_app_as_its_port_is_named(ports, protocol, monkeypatch):
    monkeypatch.setenv("USER_PROTOCOL", "h2c")  # what the parent has is not passed on for this
    container = {"command": ["app"], **({"ports": ports} if ports else {})}
    t = template_for(revision(container), "/tmp")
    env = t.queue_proxy_env("img-00001-pod", PORTS, 1.0)
    assert (env["USER_PROTOCOL"], env["USER_PORT"], env["QUEUE_SERVING_PORT"]) == (protocol, "40005", "40001")
    # the app still gets its own port (ports are per pod locally), whatever it declared
    assert t.app_env(40005)["PORT"] == "40005"
    # and the queue-proxy starts from it: HTTP/2 on its one serving port, no second one
    from dataplane.queueproxy.settings import from_env

    settings = from_env({**env, "SERVING_CONFIGURATION": "img"})  # this bare revision has no labels
    assert (settings.user_protocol, settings.serving_port, settings.h2c_serving_port) == (protocol, 40001, 0)


class FailingRuntime:
    async def ensure_revision(self, revision, initial_scale):
        try:
            template_for(revision, "/tmp")
        except NotRunnable as exc:
            return RevisionState(0, (), exc.reason, str(exc))
        raise AssertionError("expected a revision that cannot run")


async def test_the_revision_reports_ready_false_with_the_reason(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    try:
        rev = await store.create(revision({"image": "docker.io/example/app"}))
        await reconcile_revision(store, FailingRuntime(), rev, 1, 1_000_000.0)
        status = (await store.get("Revision", "default", "img-00001"))["status"]
        ready = c.get_condition(status, c.READY)
        assert (ready["status"], ready["reason"]) == ("False", "CommandMissing")
        assert "command" in ready["message"]
    finally:
        store.close()


async def test_a_revision_available_before_a_restart_stays_ready_at_zero(tmp_path):
    """A fresh runtime (as after `dataplane up` restarts) over a revision scaled to zero: no pod runs, it stays Ready."""
    from dataplane.platform.local.runtime import LocalRuntime

    store = SqliteStore(tmp_path / "state.db")
    runtime = LocalRuntime(store, tmp_path)
    try:
        rev = await store.create(revision({"command": ["node", "index.js"]}))
        status = c.initialize({}, "Revision", now=1.0)
        for type_ in (c.RESOURCES_AVAILABLE, c.CONTAINER_HEALTHY):
            status = c.mark(status, "Revision", type_, c.TRUE, now=1.0)
        rev = await store.update_status({**rev, "status": status})
        await reconcile_revision(store, runtime, rev, 0, 2.0)
        after = (await store.get("Revision", "default", "img-00001"))["status"]
        assert c.condition_status(after, c.READY) == c.TRUE
        active = c.get_condition(after, c.ACTIVE)
        assert (active["status"], active["reason"]) == ("False", "NoTraffic")
        assert runtime.pods() == []
    finally:
        await runtime.close()
        store.close()


async def test_a_revision_never_available_is_not_ready_without_pods(tmp_path):
    """The restored readiness comes only from the revision's own recorded status, not from a restart as such."""
    from dataplane.platform.local.runtime import LocalRuntime

    store = SqliteStore(tmp_path / "state.db")
    runtime = LocalRuntime(store, tmp_path)
    try:
        rev = await store.create(revision({"command": ["node", "index.js"]}))
        await reconcile_revision(store, runtime, rev, 0, 2.0)
        after = (await store.get("Revision", "default", "img-00001"))["status"]
        assert c.condition_status(after, c.READY) == c.UNKNOWN
    finally:
        await runtime.close()
        store.close()

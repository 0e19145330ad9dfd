"""`dataplane apply` against the real control API handler and store: what admission refuses is never stored."""

from __future__ import annotations

import pytest_asyncio
from aiohttp import web

from dataplane.api import DEFAULT_CONFIG
from dataplane.platform.local.apiserver import ApiServer
from dataplane.platform.local.store import SqliteStore
from tests.seed import LISTING_2


class Plane:
    """What the apply and list handlers use of a control plane: a real store and the default config."""

    def __init__(self, store: SqliteStore):
        self.store = store
        self.api_config = DEFAULT_CONFIG

    def check_config(self, name: str, data: dict) -> None:
        """Platform ConfigMaps are not under test here."""


@pytest_asyncio.fixture
async def plane(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "state.db")
    plane = Plane(store)
    app = web.Application()
    ApiServer(plane).routes(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    monkeypatch.setenv("DATAPLANE_SERVER", f"http://{host}:{port}")
    yield plane
    await runner.cleanup()
    store.close()


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


async def test_a_misspelt_field_fails_the_apply_with_its_path_and_stores_nothing(plane, run, tmp_path):
    typo = write(tmp_path, "app.yaml", LISTING_2.replace("command:", "comand:"))
    result = await run(["apply", "-f", typo, "--no-wait"])
    assert result.rc == 1 and result.out == ""
    assert result.err.splitlines() == [
        "Error from server: the resources are invalid; nothing was applied",
        f"  service.serving.knative.dev/knative-example ({typo}): "
        'spec.runLatest.configuration.revisionTemplate.spec.container.comand: unknown field; did you mean "command"?',
        f"  service.serving.knative.dev/knative-example ({typo}): "
        "spec.runLatest.configuration.revisionTemplate.spec.container.image: "
        "is required (or set command to run a local process)",
    ]
    assert plane.store.cache == {}


async def test_the_seed_listing_is_applied(plane, run, tmp_path):
    result = await run(["apply", "-f", write(tmp_path, "app.yaml", LISTING_2), "--no-wait"])
    assert (result.rc, result.out) == (0, "service.serving.knative.dev/knative-example created\n")
    assert list(plane.store.cache) == [("Service", "default", "knative-example")]


async def test_a_configmap_with_an_unknown_top_level_field_is_refused(plane, run, tmp_path):
    doc = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndate: {a: b}\n"
                                     "binaryData: {b: AA==}\n")
    result = await run(["apply", "-f", doc, "--no-wait"])
    assert result.rc == 1
    assert result.err.splitlines()[1:] == [
        f'  configmap/settings ({doc}): date: unknown field; did you mean "data"?',
        f"  configmap/settings ({doc}): binaryData: must not set the field(s) "
        "(binary data is not supported by the local control plane)",
    ]
    assert plane.store.cache == {}


async def test_what_get_o_yaml_adds_is_accepted_and_ignored(plane, run, tmp_path):
    first = await run(["apply", "-f", write(tmp_path, "app.yaml", LISTING_2), "--no-wait"])
    assert first.rc == 0
    stored = plane.store.cache[("Service", "default", "knative-example")]
    exported = await run("get ksvc knative-example -o yaml")
    await plane.store.delete("Service", "default", "knative-example")
    again = await run(["apply", "-f", write(tmp_path, "exported.yaml", exported.out), "--no-wait"])
    assert (again.rc, again.err) == (0, "")
    recreated = plane.store.cache[("Service", "default", "knative-example")]
    assert recreated["spec"] == stored["spec"]
    assert recreated["metadata"]["uid"] != stored["metadata"]["uid"]  # the server's, not the file's
    assert recreated["status"] == {}

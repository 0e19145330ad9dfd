"""`dataplane delete TYPE -l SELECTOR` against the fake control API."""

from __future__ import annotations

from tests.unit.cli.test_get import seed


def labelled(control, name: str, labels: dict, namespace: str = "default") -> None:
    seed(control, "configmaps", name, namespace=namespace)
    control.store["configmaps"][(namespace, name)]["metadata"]["labels"] = labels


async def test_delete_by_label_selector(control, run):
    labelled(control, "a", {"app": "web", "tier": "front"})
    labelled(control, "b", {"app": "web"})
    labelled(control, "c", {"app": "db"})
    labelled(control, "d", {"app": "web"}, namespace="other")
    result = await run("delete cm -l app=web,tier!=front")
    assert (result.rc, result.out, result.err) == (0, 'configmap "b" deleted\n', "")
    assert sorted(control.store["configmaps"]) == [("default", "a"), ("default", "c"), ("other", "d")]
    sets = await run("delete configmaps --selector 'app in (web, db)'")
    assert sets.out == 'configmap "a" deleted\nconfigmap "c" deleted\n'
    assert list(control.store["configmaps"]) == [("other", "d")]


async def test_a_selector_matching_nothing_deletes_nothing(control, run):
    labelled(control, "a", {"app": "web"})
    result = await run("delete cm -l app=none")
    assert (result.rc, result.out, result.err) == (0, "", "No resources found\n")
    assert not [m for m, _ in control.requests if m == "DELETE"]


async def test_bad_selectors_and_mixes_are_refused_before_any_delete(control, run):
    labelled(control, "a", {"app": "web"})
    for line, message in [
        ("delete cm -l 'app in web'", "error: "),
        ("delete cm a -l app=web", "error: name cannot be provided when a selector is specified"),
        ("delete cm --all -l app=web", "error: --all and --selector cannot be used together"),
        ("delete -f x.yaml -l app=web", "error: use either -f FILE or TYPE NAME (or TYPE -l SELECTOR), not both"),
    ]:
        result = await run(line)
        assert result.rc == 1 and result.err.startswith(message), (line, result.err)
    assert not [m for m, _ in control.requests if m == "DELETE"]
    assert list(control.store["configmaps"]) == [("default", "a")]

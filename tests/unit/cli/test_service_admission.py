"""`dataplane service create/update` through the real control API handler and store, as `apply` goes."""

from __future__ import annotations

from tests.unit.cli.test_apply_admission import plane  # noqa: F401 - fixture

KEY = ("Service", "default", "hello")


async def test_create_stores_the_service_the_flags_describe(plane, run, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    result = await run("service create hello --cmd node --arg server.js -e GREETING=hi --port 8080 "
                       "--concurrency-limit 2 --scale-min 1 --no-wait")
    assert (result.rc, result.err) == (0, "")
    assert result.out == "Service 'hello' created in namespace 'default'.\n"
    stored = plane.store.cache[KEY]
    template = stored["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["command"] == ["node"] and container["args"] == ["server.js"]
    assert container["env"] == [{"name": "GREETING", "value": "hi"}]
    assert container["ports"][0]["containerPort"] == 8080
    assert template["spec"]["containerConcurrency"] == 2
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    # the local platform's working directory is remembered as for `apply`
    assert template["metadata"]["annotations"]["local.dataplane.dev/working-dir"] == str(tmp_path)


async def test_the_api_refuses_bad_values_naming_the_field_path_and_stores_nothing(plane, run):  # noqa: F811
    result = await run("service create hello --cmd node --concurrency-limit 5000 --scale-min -1 --no-wait")
    assert result.rc == 1 and result.out == ""
    assert result.err.splitlines()[0] == "Error from server: the resources are invalid; nothing was applied"
    assert "  spec.template.spec.containerConcurrency: " in result.err
    assert "  spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]: " in result.err
    assert plane.store.cache == {}


async def test_create_refuses_an_existing_service_without_force(plane, run):  # noqa: F811
    assert (await run("service create hello --cmd node --no-wait")).rc == 0
    again = await run("service create hello --cmd python3 --no-wait")
    assert again.rc == 1
    assert again.err == ("error: cannot create service 'hello' in namespace 'default' because the service already "
                         "exists and no --force option was given\n")
    assert plane.store.cache[KEY]["spec"]["template"]["spec"]["containers"][0]["command"] == ["node"]
    forced = await run("service create hello --cmd python3 --force --no-wait")
    assert (forced.rc, forced.out) == (0, "Service 'hello' replaced in namespace 'default'.\n")
    assert plane.store.cache[KEY]["spec"]["template"]["spec"]["containers"][0]["command"] == ["python3"]


async def test_update_changes_only_what_the_flags_say(plane, run):  # noqa: F811
    assert (await run("service create hello --cmd node -e A=1 -e B=2 --concurrency-limit 4 "
                      "--revision-name hello-first --no-wait")).rc == 0
    before = plane.store.cache[KEY]
    result = await run("service update hello -e B=3 --no-wait")
    assert (result.rc, result.err) == (0, "")
    after = plane.store.cache[KEY]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    spec = after["spec"]["template"]["spec"]
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert spec["containerConcurrency"] == 4
    # a new template under the old revision name would be refused: the name is left to the server
    assert "name" not in after["spec"]["template"].get("metadata", {})


async def test_update_of_a_missing_service_is_not_found(plane, run):  # noqa: F811
    result = await run("service update nothing -e A=1 --no-wait")
    assert result.rc == 1
    assert result.err == 'Error from server (NotFound): services.serving.knative.dev "nothing" not found\n'


async def test_bad_flags_send_nothing(plane, run):  # noqa: F811
    for line, message in [
        ("service create hello --cmd node --env FOO", 'error: invalid --env "FOO": expected NAME=value'),
        ("service create hello --cmd node --port web", 'error: invalid --port "web"'),
        ("service create hello --cmd node --scale 1..x", 'error: invalid --scale "1..x"'),
        ("service update hello --traffic a=half", 'error: invalid --traffic "a=half"'),
        ("service update hello --tag nothing", 'error: invalid --tag "nothing"'),
    ]:
        result = await run(line + " --no-wait")
        assert result.rc == 1 and result.err.startswith(message), (line, result.err)
    assert plane.store.cache == {}

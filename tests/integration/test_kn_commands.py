"""The kn-style commands and pod logs against a real `dataplane up` (one start for the whole file)."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.integration.test_walkthrough import up  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

APP = "require('http').createServer((q, r) => { console.log('hit ' + q.url); r.end(process.env.WHO + '\\n') })" \
      ".listen(process.env.PORT, () => console.log('listening'))"


async def test_create_update_split_logs_and_delete(up):  # noqa: F811
    up.workdir.mkdir()  # the commands run here, and so does the app
    rc, shown = up.dataplane("service", "create", "hello", "--cmd", "node", "--arg=-e", "--arg", APP,
                             "-e", "WHO=first", "--scale-min", "1", "--revision-name", "hello-first")
    assert rc == 0, shown
    assert shown[0] == "Creating service 'hello' in namespace 'default':"
    assert shown[-2:] == ["Service 'hello' created to latest revision 'hello-first' is available at URL:",
                          "http://hello.default.example.com"]

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:

        async def get(host: str = "hello.default.example.com") -> str:
            async with s.get(f"http://127.0.0.1:{up.port}/", headers={"Host": host}) as r:
                assert r.status == 200, await r.text()
                return (await r.text()).strip()

        assert await get() == "first"

        # a bad value is the API's to refuse, naming the field; nothing changes
        rc, shown = up.dataplane("service", "update", "hello", "--concurrency-limit", "5000")
        assert rc == 1 and "  spec.template.spec.containerConcurrency: must be between 0 and 1000, got 5000" in shown

        rc, shown = up.dataplane("service", "update", "hello", "-e", "WHO=second")
        assert rc == 0, shown
        assert shown[-2] == "Service 'hello' updated to latest revision 'hello-00002' is available at URL:"
        assert await get() == "second"

        rc, shown = up.dataplane("service", "update", "hello", "--traffic", "hello-first=50", "--traffic", "@latest=50",
                                 "--tag", "hello-first=old")
        assert rc == 0, shown
        answers = [await get() for _ in range(20)]
        assert answers.count("first") == 10 and answers.count("second") == 10
        assert await get("old-hello.default.example.com") == "first"

        rc, shown = up.dataplane("revision", "list")
        assert rc == 0 and shown[0].split()[:4] == ["NAME", "SERVICE", "TRAFFIC", "TAGS"]
        rows = {line.split()[0]: line.split() for line in shown[1:]}
        assert rows["hello-00002"][1:3] == ["hello", "50%"] and rows["hello-first"][1:4] == ["hello", "50%", "old"]
        rc, shown = up.dataplane("route", "list")
        assert shown[1].split() == ["hello", "http://hello.default.example.com", "True"]

        # every pod of the service, prefixed, with the time of each line
        rc, shown = up.dataplane("logs", "ksvc/hello", "--timestamps")
        assert rc == 0, shown
        hits = [line for line in shown if line.endswith(" hit /")]
        assert hits and all(re.fullmatch(r"\[pod/hello-(first|00002)-deployment-\S+/user-container\] "
                                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hit /", line) for line in hits)
        assert {line.split("-deployment-")[0] for line in hits} == {"[pod/hello-first", "[pod/hello-00002"}
        rc, recent = up.dataplane("logs", "revision/hello-first", "--since", "1h")
        assert rc == 0 and any(line.endswith("] listening") for line in recent)

    rc, shown = up.dataplane("service", "delete", "hello")
    assert (rc, shown) == (0, ["Service 'hello' successfully deleted in namespace 'default'."])
    assert up.dataplane("service", "list") == (0, ["No services found in default namespace."])

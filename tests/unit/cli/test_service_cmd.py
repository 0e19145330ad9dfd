"""The kn-style verbs against the fake control API: waiting, tables, describe and delete."""

from __future__ import annotations

import re

import yaml


async def test_create_waits_for_ready_and_prints_the_url(control, run):
    result = await run("service create hello --cmd node")
    assert result.rc == 0, result.err
    lines = result.out.splitlines()
    assert lines[:2] == ["Creating service 'hello' in namespace 'default':", ""]
    assert re.fullmatch(r" +\d+\.\d{3}s Configuration \"hello\" is waiting for a Revision to become ready\.", lines[2])
    assert re.fullmatch(r" +\d+\.\d{3}s Ready to serve\.", lines[3])
    assert lines[4:] == ["", "Service 'hello' created to latest revision '' is available at URL:",
                         "http://hello.default.example.com"]
    assert [m for m, p in control.requests if m == "POST"] == ["POST"]


async def test_a_failure_ends_the_wait_with_its_reason(control, run):
    control.fail_with = ("RevisionFailed", 'Revision "hello-00001" failed with message: exit 1')
    result = await run("service create hello --cmd node --wait-window 0")
    assert result.rc == 1
    assert result.err == ("error: service 'hello' is not ready: RevisionFailed: "
                          'Revision "hello-00001" failed with message: exit 1\n')


async def test_a_wait_timeout_is_an_error(control, run):
    control.ready_after = 10**6
    result = await run("service create hello --cmd node --wait-timeout 1")
    assert result.rc == 1
    assert result.err.startswith("error: service 'hello' is not ready: timeout: not ready after 1 seconds: ")


async def test_update_with_no_wait_returns_at_once(control, run):
    assert (await run("service create hello --cmd node --no-wait")).rc == 0
    gets = len(control.requests)
    result = await run("service update hello --concurrency-limit 1 --no-wait")
    assert (result.rc, result.out) == (0, "Service 'hello' updated in namespace 'default'.\n")
    # one read of the Service, then the apply: nothing polled
    assert [m for m, _ in control.requests[gets:]] == ["GET", "POST"]
    doc = control.apply_bodies[-1]["documents"][0]
    assert doc["spec"]["template"]["spec"]["containerConcurrency"] == 1


async def test_update_traffic_checks_revisions_and_sends_the_split(control, run):
    assert (await run("service create hello --cmd node")).rc == 0
    assert (await run("service update hello -e A=1")).rc == 0
    unknown = await run("service update hello --traffic hello-00009=100 --no-wait")
    assert unknown.rc == 1
    assert unknown.err == "error: --traffic: \"hello-00009\" is neither a revision nor a tag of service 'hello'\n"
    posts = len(control.apply_bodies)
    split = await run("service update hello --traffic hello-00001=10 --traffic @latest=90 --tag hello-00001=old --no-wait")
    assert split.rc == 0, split.err
    assert len(control.apply_bodies) == posts + 1
    # the fake stores no defaulted traffic, so both targets are new
    assert control.apply_bodies[-1]["documents"][0]["spec"]["traffic"] == [
        {"tag": "old", "revisionName": "hello-00001", "latestRevision": False, "percent": 10},
        {"latestRevision": True, "percent": 90},
    ]


async def test_list_describe_and_delete(control, run):
    assert (await run("service create hello --cmd node")).rc == 0
    listed = await run("service list")
    assert listed.rc == 0
    header, row = listed.out.splitlines()
    assert header.split() == ["NAME", "URL", "LATEST", "AGE", "CONDITIONS", "READY", "REASON"]
    assert row.split()[:2] == ["hello", "http://hello.default.example.com"]
    assert "1 OK / 1" in row and row.split()[-1] == "True"
    described = await run("service describe hello")
    assert "Name:" in described.out and "hello" in described.out
    as_yaml = await run("service describe hello -o yaml")
    assert yaml.safe_load(as_yaml.out)["metadata"]["name"] == "hello"
    revisions = await run("revision list")
    assert revisions.out.splitlines()[0].split() == ["NAME", "SERVICE", "TRAFFIC", "TAGS", "GENERATION", "AGE",
                                                     "CONDITIONS", "READY", "REASON"]
    assert revisions.out.splitlines()[1].split()[:2] == ["hello-00001", "hello"]
    routes = await run("route list")
    assert routes.out.splitlines() == ["NAME    URL                                READY",
                                       "hello   http://hello.default.example.com   True"]
    deleted = await run("service delete hello")
    assert (deleted.rc, deleted.out) == (0, "Service 'hello' successfully deleted in namespace 'default'.\n")
    again = await run("service delete hello")
    assert again.rc == 1 and "not found" in again.err
    empty = await run("service list")
    assert empty.out == "No services found in default namespace.\n"


async def test_revision_delete(control, run):
    assert (await run("service create hello --cmd node --no-wait")).rc == 0
    result = await run("revision delete hello-00001")
    assert (result.rc, result.out) == (0, "Revision 'hello-00001' deleted in namespace 'default'.\n")
    assert (await run("revision list --service hello")).out == "No revisions found in default namespace.\n"

"""The scenario runner's pure parts: Prometheus text, locust's CSVs, shapes, the timeline and summary, the plot."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from dataplane.api import admit
from loadtests._scenario_apps import app_command, autoscaler_config, host_of, service
from loadtests._scenario_defs import SCENARIOS, Settings
from loadtests._scenario_install import descendants, environ, listening_ports
from loadtests._scenario_locust import LOCUSTFILES, FailureGroup, HistoryRow, Totals, locust_command, read_failures, read_history, read_totals
from loadtests._scenario_prom import Metric, by_revision, parse
from loadtests._scenario_report import Marker, format_summary, summarize, timeline, write_timeline_csv
from loadtests._scenario_sampler import RevisionSample, Sample
from loadtests.locust.shapes import burst_over, ramp_users
from loadtests.scenarios import parse_args

# -- Prometheus text ------------------------------------------------------------------------------

ACTIVATOR_TEXT = """\
# HELP activator_in_flight_requests Requests sent to pods and not yet answered
# TYPE activator_in_flight_requests gauge
activator_in_flight_requests{namespace_name="default",revision_name="a-00001"} 3.0
activator_in_flight_requests{namespace_name="default",revision_name="a-00002"} 1.0
activator_queued_requests{namespace_name="default",revision_name="a-00001"} 7.0
activator_request_count{namespace_name="default",response_code="200",revision_name="a-00001"} 1.4e+03
activator_request_count{namespace_name="default",response_code="503",revision_name="a-00001"} 100
weird{label="with \\"quotes\\", commas, and } braces"} 2
no_labels 4.5
broken_line{namespace_name="x"}
"""


def test_prometheus_samples_with_labels_escapes_and_exponents():
    metrics = parse(ACTIVATOR_TEXT)
    assert Metric("activator_request_count", {"namespace_name": "default", "response_code": "200", "revision_name": "a-00001"}, 1400.0) in metrics
    assert Metric("weird", {"label": 'with "quotes", commas, and } braces'}, 2.0) in metrics
    assert Metric("no_labels", {}, 4.5) in metrics
    assert not [m for m in metrics if m.name == "broken_line"]


def test_prometheus_values_by_revision():
    metrics = parse(ACTIVATOR_TEXT)
    assert by_revision(metrics, "activator_in_flight_requests") == {("default", "a-00001"): 3.0, ("default", "a-00002"): 1.0}
    assert by_revision(metrics, "missing") == {}


# -- locust's CSV files ---------------------------------------------------------------------------

HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size\n"
)


def test_history_keeps_aggregated_rows_and_skips_cut_ones(tmp_path):
    path = tmp_path / "x_stats_history.csv"
    path.write_text(
        HISTORY_HEADER
        + "100,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0\n"
        + "101,5,GET,/,2.0,0.0,900,900,900,900,900,950,950,990,990,990,990,2,0,900,900.0,800,990,3\n"
        + "101,5,,Aggregated,2.000000,0.000000,900,900,900,900,900,950,950,990,990,990,990,2,0,900,900.0,800,990,3\n"
        + "102,5,,Aggregated,2.0"
    )
    rows = read_history(path)
    assert [r.timestamp for r in rows] == [100, 101]
    assert rows[0].p50_ms is None and rows[0].total_requests == 0
    assert rows[1] == HistoryRow(101, 5, 2.0, 0.0, 900.0, 950.0, 990.0, 2, 0)
    assert read_history(tmp_path / "missing.csv") == []


def test_totals_and_failures(tmp_path):
    stats = tmp_path / "x_stats.csv"
    stats.write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
        "GET,/,10,1,200,210.5,190,400,3,5.0,0.5,200,200,200,210,220,300,400,400,400,400,400\n"
        ",Aggregated,10,1,200,210.5,190,400,3,5.0,0.5,200,200,200,210,220,300,400,400,400,400,400\n"
    )
    assert read_totals(stats) == Totals(10, 1, 200.0, 300.0, 400.0, 210.5, 400.0)
    failures = tmp_path / "x_failures.csv"
    failures.write_text(
        "Method,Name,Error,Occurrences\nGET,/,CatchResponseError('HTTP 502'),1\n"
        'GET,/,"CatchResponseError(\'no answer: ConnectionRefusedError\')",4\n'
    )
    assert read_failures(failures) == [FailureGroup("GET", "/", "no answer: ConnectionRefusedError", 4), FailureGroup("GET", "/", "HTTP 502", 1)]
    assert read_totals(tmp_path / "none.csv") is None


def test_locust_command_is_headless_bounded_and_names_the_service(tmp_path):
    cmd = locust_command(tmp_path / "f.py", "http://127.0.0.1:9", tmp_path / "out", 20, 20, 15, "seed.default.example.com", ["--burst-seconds", "15"])
    assert cmd[:3] == [sys.executable, "-m", "locust"]
    joined = " ".join(cmd)
    for part in ("--headless", "-u 20", "-r 20", "-t 15s", f"--csv {tmp_path / 'out'}", "--csv-full-history", "--host-header seed.default.example.com", "--burst-seconds 15"):
        assert part in joined, part


# -- shapes ---------------------------------------------------------------------------------------


def test_ramp_rises_holds_falls_then_idles_and_ends():
    users = [ramp_users(t, 100, 20) for t in range(0, 101)]
    assert users[0] == 1 and users[39] in (19, 20) and users[40] == 20 and users[59] == 20
    rising = users[:40]
    assert rising == sorted(rising)
    falling = users[60:80]
    assert falling == sorted(falling, reverse=True) and falling[-1] >= 1
    assert users[80] == 0 and users[99] == 0
    assert users[100] is None
    assert max(u for u in users if u is not None) == 20


def test_ramp_edge_cases():
    assert ramp_users(0, 0, 5) is None
    assert ramp_users(10, 100, 0) == 1  # at least one user while ramping


def test_burst_is_over_after_its_seconds():
    assert not burst_over(4.9, 5) and burst_over(5, 5) and burst_over(0, 0)


# -- scenarios ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_applies_valid_services(name):
    scenario = SCENARIOS[name]
    settings = Settings(users=scenario.users, duration_s=scenario.duration_s)
    batches = [batch(settings) for batch in scenario.setup] + [step.documents(settings) for step in scenario.steps]
    previous = None
    for batch in batches:
        for doc in batch:
            assert doc["metadata"]["name"] == scenario.service
            previous = admit(doc, previous=previous)  # raises ValidationError with the field path
    assert (LOCUSTFILES / scenario.locustfile).is_file()


def test_split_scenario_is_ninety_ten_and_rollout_changes_the_revision():
    settings = Settings(users=1, duration_s=1)
    split = SCENARIOS["split"].setup[-1](settings)[0]
    assert [t["percent"] for t in split["spec"]["traffic"]] == [90, 10]
    rollout = SCENARIOS["rollout"]
    first = rollout.setup[0](settings)[0]["spec"]["template"]
    second = rollout.steps[0].documents(settings)[0]["spec"]["template"]
    assert first["metadata"]["name"] != second["metadata"]["name"] and first["spec"] != second["spec"]


def test_apps_and_config():
    assert app_command("node")[:2] == ["node", "-e"] and app_command("python")[:2] == ["python3", "-c"]
    with pytest.raises(ValueError):
        app_command("ruby")
    assert autoscaler_config({"stable-window": "20s"})["data"]["stable-window"] == "20s"
    assert host_of("seed") == "seed.default.example.com"
    svc = service("x", "node", 250, 3, env={"A": "b"})
    env = {e["name"]: e["value"] for e in svc["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"SLEEP_MS": "250", "A": "b"}


def test_python_app_serves_after_its_sleep(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PORT=str(port), SLEEP_MS="50", K_REVISION="rev-1")
    proc = subprocess.Popen(app_command("python"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the python app never listened"
                time.sleep(0.05)
        with conn:
            conn.settimeout(10)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"rev-1\n") and len(data) < 4096:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\nrev-1\n")
    finally:
        proc.kill()
        proc.wait()


def test_command_line_checks():
    args = parse_args(["ramp", "--users", "5", "--duration", "30"])
    assert (args.name, args.users, args.duration, args.host) == ("ramp", 5, 30, None)
    for bad in (["nope"], ["ramp", "--users", "0"], ["ramp", "--api", "http://127.0.0.1:1"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


# -- timeline and summary -------------------------------------------------------------------------


def _history(ts: int, users: int, total: int, failures: int = 0) -> HistoryRow:
    return HistoryRow(ts, users, 0.0, 0.0, 100.0, 200.0, 300.0, total, failures)


def test_timeline_joins_by_second_and_merges_partial_readings():
    start = 1000.4
    history = [_history(1000, 0, 0), _history(1001, 4, 10), _history(1003, 4, 30, 2)]
    samples = [
        Sample(1001.2, {"r-1": RevisionSample(desired=2, panic=True)}),
        Sample(1001.7, {"r-1": RevisionSample(ready=1, pods=2)}),
        Sample(1001.9, {"r-1": RevisionSample(desired=3)}),
        Sample(1005.1, {"r-1": RevisionSample(ready=0, pods=0, desired=0)}),
    ]
    rows = timeline(start, history, samples)
    assert [r.t for r in rows] == [0, 1, 3, 5]
    one = rows[1]
    assert one.users == 4 and one.completed_rps == 10
    assert (one.revisions["r-1"].desired, one.revisions["r-1"].ready, one.revisions["r-1"].pods, one.revisions["r-1"].panic) == (3, 1, 2, True)
    assert rows[2].completed_rps == 10 and rows[2].failures == 1  # 20 requests and 2 failures over 2 s


def test_summary_figures(tmp_path):
    rows = timeline(
        0,
        [_history(0, 2, 0), _history(1, 2, 10)],
        [
            Sample(0.5, {"a": RevisionSample(desired=1, ready=1, pods=1, routed_total=100), "b": RevisionSample(ready=0, pods=0, routed_total=0)}),
            Sample(1.5, {"a": RevisionSample(desired=2, ready=2, pods=2, routed_total=190), "b": RevisionSample(ready=1, pods=1, routed_total=10)}),
            Sample(3.5, {"a": RevisionSample(desired=0, ready=0, pods=0), "b": RevisionSample(ready=0, pods=0)}),
        ],
    )
    summary = summarize("x", Totals(10, 1, 100, 200, 300, 120, 400), [FailureGroup("GET", "/", "HTTP 502", 1)], rows, 2.0, [Marker(1.0, "apply")])
    assert summary["requests"] == 10 and summary["failures_by_reason"] == {"HTTP 502": 1}
    assert summary["revisions"]["a"] == {"peak_desired": 2, "peak_ready": 2, "first_ready_s": 0, "routed_requests": 90, "routed_share": 0.9}
    assert summary["revisions"]["b"]["routed_share"] == 0.1 and summary["revisions"]["b"]["first_ready_s"] == 1
    assert summary["all_pods_gone_at_s"] == 3
    text = format_summary(summary)
    assert "1 x HTTP 502" in text and "90.0% of routed requests" in text and "at 1.0 s: apply" in text
    write_timeline_csv(rows, tmp_path / "t.csv")
    header = (tmp_path / "t.csv").read_text().splitlines()[0]
    assert header.startswith("t,users,completed_rps") and "a:desired" in header and "b:router_queued" in header


def test_plot_writes_a_png(tmp_path):
    from loadtests._scenario_plot import plot

    rows = timeline(
        0,
        [_history(t, 3, 10 * t) for t in range(5)],
        [Sample(t + 0.5, {"r": RevisionSample(desired=t, ready=max(t - 1, 0), pods=t, router_in_flight=2, router_queued=1, pod_in_flight=2)}) for t in range(6)],
    )
    path = tmp_path / "plot.png"
    plot(rows, [Marker(2.0, "apply revision 2")], "title", path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


# -- process helpers ------------------------------------------------------------------------------


def test_listening_ports_descendants_and_environment():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert s.getsockname()[1] in listening_ports(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=dict(os.environ, MARK="scenario-test"))
    try:
        deadline = time.monotonic() + 5
        while environ(child.pid).get("MARK") != "scenario-test":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert child.pid in descendants(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in descendants(os.getpid())


# -- the sampler, over fake sources ---------------------------------------------------------------


def _pod(name: str, revision: str, ready: bool, metrics_port: int) -> dict:
    return {
        "metadata": {"name": name, "labels": {"serving.knative.dev/revision": revision}},
        "spec": {"containers": [{"name": "user-container", "env": [{"name": "PORT", "value": "1"}]}, {"name": "queue-proxy", "ports": [{"name": "metrics", "containerPort": metrics_port}]}]},
        "status": {"containerStatuses": [{"name": "user-container", "ready": ready}, {"name": "queue-proxy", "ready": ready}]},
    }


class FakeApi:
    def __init__(self, pods: list[dict], revisions: list[str], decisions: dict):
        self._pods, self._revisions, self._decisions = pods, revisions, decisions

    async def list(self, resource, namespace="default"):
        assert resource == "revisions"
        return [{"metadata": {"name": n}} for n in self._revisions]

    async def pods(self, namespace="default"):
        return self._pods

    async def decisions(self):
        return self._decisions


def _qp_metrics(in_flight: float) -> str:
    return f'revision_in_flight_requests{{namespace_name="default",revision_name="r"}} {in_flight}\n'


async def test_sampler_sums_pods_and_leaves_unknown_sums_empty(monkeypatch):
    import loadtests._scenario_sampler as sampler_module
    from loadtests._scenario_sampler import Sampler

    answers = {1: _qp_metrics(2), 2: _qp_metrics(3), 3: None, 4: None}

    async def fake_fetch(session, url, timeout=1.0):
        return answers[int(url.split(":")[2].split("/")[0])]

    monkeypatch.setattr(sampler_module, "fetch_text", fake_fetch)
    pods = [
        _pod("a1", "a", True, 1),
        _pod("a2", "a", True, 2),
        _pod("a3", "a", False, 3),  # starting: no answer yet, holds nothing
        _pod("b1", "b", True, 4),  # ready but silent: b's sum is unknown
    ]
    decisions = {("default", "a"): {"desired": 4, "panic": True, "stableConcurrency": 1.0, "panicConcurrency": 2.0}, ("other", "x"): {"desired": 9}}
    sampler = Sampler(FakeApi(pods, ["a", "b", "c"], decisions), None, "default", None, local_pods=True)
    read = await sampler.read_pods()
    assert (read["a"].pods, read["a"].ready, read["a"].pod_in_flight) == (3, 2, 5.0)
    assert (read["b"].pods, read["b"].ready, read["b"].pod_in_flight) == (1, 1, None)
    assert (read["c"].pods, read["c"].ready, read["c"].pod_in_flight) == (0, 0, 0.0)  # known, no pods
    read = await sampler.read_decisions()
    assert set(read) == {"a"} and (read["a"].desired, read["a"].panic) == (4, True)


async def test_sampler_reads_the_activator_per_revision(monkeypatch):
    import loadtests._scenario_sampler as sampler_module
    from loadtests._scenario_sampler import Sampler

    async def fake_fetch(session, url, timeout=1.0):
        return ACTIVATOR_TEXT

    monkeypatch.setattr(sampler_module, "fetch_text", fake_fetch)
    sampler = Sampler(FakeApi([], [], {}), None, "default", "http://127.0.0.1:1/metrics", local_pods=False)
    read = await sampler.read_activator()
    assert (read["a-00001"].router_in_flight, read["a-00001"].router_queued, read["a-00001"].routed_total) == (3.0, 7.0, 1500.0)
    assert read["a-00002"].router_queued is None


def test_plot_lines_hold_a_reading_briefly_then_break():
    import math

    from loadtests._scenario_plot import _series
    from loadtests._scenario_report import Second

    rows = [Second(t, users=u) for t, u in [(0, None), (1, 5), (2, None), (3, None), (4, None), (5, None), (6, 7), (7, None)]]
    xs, ys = _series(rows, lambda r: r.users)
    assert xs == [1, 2, 3, 4, 5, 6, 7]
    assert ys[:3] == [5.0, 5.0, 5.0] and math.isnan(ys[3]) and math.isnan(ys[4]) and ys[5:] == [7.0, 7.0]

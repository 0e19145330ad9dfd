"""The compare() runner with fake cases and a fake measurement."""

from __future__ import annotations

import io
import json

import pytest

from loadtests._launch import Pinning
from loadtests._report import RunMetrics
from loadtests.harness import Case, Load, Scope, Target, compare, schedule


def test_schedule_runs_every_case_each_round():
    order = schedule(["a", "b", "c"], runs=3)
    rounds = [[name for r, name in order if r == i] for i in range(3)]
    assert rounds == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert [r for r, _ in order] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_schedule_single_case():
    assert schedule(["only"], runs=2) == [(0, "only"), (1, "only")]


class FakeBench:
    """Cases whose 'measurement' returns canned figures and records the order."""

    def __init__(self, figures: dict[str, list[float]]) -> None:
        self.figures = figures
        self.calls: list[tuple[str, float]] = []
        self.closed: list[str] = []

    def case(self, name: str) -> Case:
        def setup(scope: Scope) -> Target:
            assert scope.workdir.is_dir()
            scope.on_close(lambda: self.closed.append(name))
            return Target(url=f"http://127.0.0.1:1/{name}", pids=[])

        return Case(name, setup)

    def measure(self, target: Target, load: Load, load_cpu: int | None) -> RunMetrics:
        name = target.url.rsplit("/", 1)[1]
        self.calls.append((name, load.duration_s))
        if load.duration_s != 5.0:  # warm-up
            return RunMetrics(1, 1, 1, 1, 1, 1, 1, 0)
        rps = self.figures[name].pop(0)
        return RunMetrics(rps, 1000 / rps, 2000 / rps, 3000 / rps, 1e6 / rps, 10.0, int(rps), 0)


PINNED = Pinning(server_cpu=1, load_cpu=0)


def run_compare(bench: FakeBench, tmp_path, **kw):
    out = io.StringIO()
    result = compare(
        [bench.case(n) for n in bench.figures],
        baseline="direct",
        runs=3,
        load=Load(duration_s=5.0),
        pinning=PINNED,
        measure=bench.measure,
        results_dir=tmp_path,
        out=out,
        title="fake",
        **kw,
    )
    return result, out.getvalue()


def test_compare_interleaves_and_takes_medians(tmp_path):
    bench = FakeBench({"direct": [100.0, 80.0, 120.0], "proxy": [50.0, 40.0, 45.0]})
    result, printed = run_compare(bench, tmp_path, warmup_s=1.0)
    assert bench.calls == [
        ("direct", 1.0), ("proxy", 1.0),  # warm-up, in case order
        ("direct", 5.0), ("proxy", 5.0),
        ("proxy", 5.0), ("direct", 5.0),
        ("direct", 5.0), ("proxy", 5.0),
    ]  # fmt: skip
    proxy = result.by_name("proxy")
    assert proxy.median["rps"] == 45.0
    # Rounds pair as (100, 50), (80, 40), (120, 45): ratios 0.5, 0.5, 0.375.
    assert proxy.ratio["rps"] == pytest.approx(0.5)
    assert proxy.ratio["cpu_us_per_req"] == pytest.approx(2.0)
    assert result.by_name("direct").ratio["rps"] == 1.0
    assert "proxy" in printed and "server on CPU 1, wrk on CPU 0" in printed
    assert sorted(bench.closed) == ["direct", "proxy"]


def test_compare_writes_json(tmp_path):
    bench = FakeBench({"direct": [100.0, 100.0, 100.0], "proxy": [25.0, 25.0, 25.0]})
    result, _ = run_compare(bench, tmp_path, warmup_s=0)
    assert all(d == 5.0 for _, d in bench.calls)
    data = json.loads(result.json_path.read_text())
    assert result.json_path.parent == tmp_path
    assert data["baseline"] == "direct"
    assert data["pinning"] == {"server_cpu": 1, "load_cpu": 0}
    assert data["cases"]["proxy"]["ratio"]["rps"] == pytest.approx(0.25)
    assert len(data["cases"]["direct"]["runs"]) == 3


def test_second_json_in_the_same_second_does_not_overwrite(tmp_path):
    first, _ = run_compare(FakeBench({"direct": [1.0] * 3}), tmp_path, warmup_s=0)
    second, _ = run_compare(FakeBench({"direct": [2.0] * 3}), tmp_path, warmup_s=0)
    assert first.json_path != second.json_path
    assert first.json_path.exists() and second.json_path.exists()


def test_cases_are_torn_down_when_a_run_fails(tmp_path):
    bench = FakeBench({"direct": [100.0], "proxy": [50.0]})  # too few figures for 3 runs
    with pytest.raises(IndexError):
        run_compare(bench, tmp_path, warmup_s=0)
    assert sorted(bench.closed) == ["direct", "proxy"]
    assert not list(tmp_path.iterdir())


def test_cases_set_up_before_a_failing_setup_are_torn_down(tmp_path):
    bench = FakeBench({"direct": [1.0] * 3})

    def broken(scope: Scope) -> Target:
        raise RuntimeError("would not start")

    with pytest.raises(RuntimeError, match="would not start"):
        compare(
            [bench.case("direct"), Case("broken", broken)],
            baseline="direct",
            pinning=PINNED,
            measure=bench.measure,
            results_dir=tmp_path,
            out=io.StringIO(),
        )
    assert bench.closed == ["direct"]


@pytest.mark.parametrize(
    ("names", "baseline", "runs"),
    [(["a", "a"], "a", 1), (["a", "b"], "c", 1), (["a"], "a", 0)],
)
def test_bad_arguments(names, baseline, runs, tmp_path):
    bench = FakeBench({n: [1.0] for n in names})
    with pytest.raises(ValueError):
        compare(
            [bench.case(n) for n in names],
            baseline=baseline,
            runs=runs,
            pinning=PINNED,
            measure=bench.measure,
            results_dir=tmp_path,
            out=io.StringIO(),
        )
